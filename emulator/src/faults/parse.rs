//! Turns one rule, written as JSON (control API) or TOML (scenario file, converted to
//! JSON first), into a validated [`Rule`]: `spec` reads it into typed structs, and the
//! `TryFrom`s here and in `parse_effect` check what types cannot. Every refusal names the
//! field at fault, so "field `trigger.probability`: must be between 0 and 1" reaches the
//! user verbatim.

use globset::GlobBuilder;
use serde_json::Value;

use super::operations;
pub use super::parse_effect::cinder_fault;
use super::rule::*;
use super::spec::{self, OneOrMany, RuleSpec, Shape, TriggerTable};

/// Why a rule was refused: the field (dotted path) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {message}")]
pub struct RuleError {
    pub field: String,
    pub message: String,
}

pub(super) fn err(field: &str, message: impl Into<String>) -> RuleError {
    RuleError {
        field: field.to_string(),
        message: message.into(),
    }
}

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// Validates one rule; `default_id` is used when the rule names none.
pub fn parse_rule(v: &Value, default_id: &str) -> Result<Rule, RuleError> {
    let mut rule = Rule::try_from(spec::read(v)?)?;
    if rule.id.is_empty() {
        rule.id = default_id.to_string();
    }
    rule.spec = v.clone();
    Ok(rule)
}

/// The rule without its defaults: an empty `id` (none written) and a null `spec`, both
/// filled in by [`parse_rule`].
impl TryFrom<RuleSpec> for Rule {
    type Error = RuleError;

    fn try_from(s: RuleSpec) -> Result<Rule, RuleError> {
        let id = match s.id {
            None => String::new(),
            Some(id) => {
                let ok = !id.is_empty()
                    && id.len() <= 64
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                if !ok {
                    return Err(err("id", "1 to 64 characters of A-Z a-z 0-9 - _ ."));
                }
                id
            }
        };
        let trigger = match s.trigger {
            None => Trigger::Always,
            Some(t) => Trigger::try_from(t)?,
        };
        let effect = Effect::try_from(s.effect.ok_or_else(|| {
            err(
                "effect",
                "missing: every rule needs an effect (e.g. effect = \"503\")",
            )
        })?)?;
        let matcher = Match::try_from(MatchSpec {
            operation: s.operation,
            method: s.method,
            path: s.path,
            project: s.project,
            volume_type: s.volume_type,
            volume_name: s.volume_name,
            volume_metadata: s.volume_metadata,
        })?;
        check_fit(&matcher, &effect)?;
        Ok(Rule {
            id,
            description: s.description,
            matcher,
            trigger,
            effect,
            spec: Value::Null,
        })
    }
}

/// The matching fields of a [`RuleSpec`].
struct MatchSpec {
    operation: Option<OneOrMany>,
    method: Option<String>,
    path: Option<String>,
    project: Option<String>,
    volume_type: Option<String>,
    volume_name: Option<String>,
    volume_metadata: Option<std::collections::BTreeMap<String, String>>,
}

pub(super) fn nonempty(s: String, field: &str) -> Result<String, RuleError> {
    if s.is_empty() {
        return Err(err(field, "must not be empty"));
    }
    Ok(s)
}

fn glob(text: &str, field: &str) -> Result<Pattern, RuleError> {
    let g = GlobBuilder::new(text)
        .literal_separator(true)
        .build()
        .map_err(|e| err(field, format!("bad glob {text:?}: {}", e.kind())))?;
    Ok(Pattern {
        text: text.to_string(),
        glob: g.compile_matcher(),
    })
}

pub(super) fn within(n: u64, field: &str, min: u64, max: u64) -> Result<u64, RuleError> {
    if n < min || n > max {
        return Err(err(field, format!("must be between {min} and {max}")));
    }
    Ok(n)
}

/// An `operation` glob, refused unless it matches at least one known operation name
/// (the one place rule operation names are checked).
fn operation(name: &str) -> Result<Pattern, RuleError> {
    let p = glob(name, "operation")?;
    if !operations::all().iter().any(|k| p.is_match(k)) {
        return Err(err(
            "operation",
            format!("unknown operation {name:?} (docs/faults.md lists them all)"),
        ));
    }
    Ok(p)
}

impl TryFrom<MatchSpec> for Match {
    type Error = RuleError;

    fn try_from(s: MatchSpec) -> Result<Match, RuleError> {
        let mut m = Match::default();
        if let Some(ops) = s.operation {
            let names = match ops {
                OneOrMany::One(name) => vec![name],
                OneOrMany::Many(names) => names,
            };
            if names.is_empty() {
                return Err(err("operation", "an empty list matches nothing"));
            }
            m.operations = names
                .iter()
                .map(|n| operation(n))
                .collect::<Result<_, _>>()?;
        }
        if let Some(method) = s.method {
            let method = method.to_ascii_uppercase();
            if !METHODS.contains(&method.as_str()) {
                return Err(err(
                    "method",
                    format!(
                        "unknown method {method:?}; expected one of {}",
                        METHODS.join(", ")
                    ),
                ));
            }
            m.method = Some(method);
        }
        if let Some(path) = s.path {
            let path = nonempty(path, "path")?;
            if !path.starts_with('/') && !path.starts_with('*') {
                return Err(err("path", "a path glob starts with `/` (or `*`)"));
            }
            m.path = Some(glob(&path, "path")?);
        }
        m.project = s.project.map(|p| nonempty(p, "project")).transpose()?;
        m.volume_type = s
            .volume_type
            .map(|t| nonempty(t, "volume_type"))
            .transpose()?;
        m.volume_name = s.volume_name.map(|n| glob(&n, "volume_name")).transpose()?;
        for (k, g) in s.volume_metadata.unwrap_or_default() {
            let p = glob(&g, &format!("volume_metadata.{k}"))?;
            m.volume_metadata.push((k, p));
        }
        Ok(m)
    }
}

impl TryFrom<Shape<TriggerTable>> for Trigger {
    type Error = RuleError;

    fn try_from(s: Shape<TriggerTable>) -> Result<Trigger, RuleError> {
        let t = match s {
            Shape::Str(s) if s == "always" => return Ok(Trigger::Always),
            Shape::Str(_) | Shape::Int(_) => {
                return Err(err(
                    "trigger",
                    "\"always\" or a table with one of first, nth, after, probability",
                ))
            }
            Shape::Table(t) => t,
        };
        let counts = [("first", t.first), ("nth", t.nth), ("after", t.after)];
        let written: Vec<(&str, u64)> = counts
            .into_iter()
            .filter_map(|(k, n)| n.map(|n| (k, n)))
            .collect();
        let misplaced = |k: &str| {
            err(
                &format!("trigger.{k}"),
                "unknown or misplaced field; use one of first, nth, after, or probability (+ seed)",
            )
        };
        if let Some(p) = t.probability {
            if let Some((k, _)) = written.first() {
                return Err(misplaced(k));
            }
            if !(0.0..=1.0).contains(&p) {
                return Err(err("trigger.probability", "must be between 0 and 1"));
            }
            return Ok(Trigger::Probability {
                p,
                seed: t.seed.unwrap_or(0),
            });
        }
        if t.seed.is_some() {
            return Err(misplaced("seed"));
        }
        let [(k, n)] = written[..] else {
            return Err(err("trigger", "exactly one of first, nth, after"));
        };
        let field = format!("trigger.{k}");
        Ok(match k {
            "first" => Trigger::First(within(n, &field, 1, u64::MAX)?),
            "nth" => Trigger::Nth(within(n, &field, 1, u64::MAX)?),
            _ => Trigger::After(n),
        })
    }
}

/// Refuses combinations that could never fire: an effect consulted where the matched
/// fields do not exist, or a lie about an operation it cannot lie about.
fn check_fit(m: &Match, effect: &Effect) -> Result<(), RuleError> {
    let ops_within = |allowed: &[&str]| {
        !m.operations.is_empty()
            && m.operations.iter().all(|p| {
                operations::all()
                    .iter()
                    .filter(|k| p.is_match(k))
                    .all(|k| allowed.contains(&k.as_str()))
            })
    };
    match effect.phase() {
        Phase::Job if matches!(effect, Effect::Truncate) => {
            if m.method.is_some() || m.path.is_some() {
                return Err(err(
                    "effect.truncate",
                    "applies to the extend job, which has no method or path; match it by operation, project and volume",
                ));
            }
            if !ops_within(&["volume.action.os-extend"]) {
                return Err(err(
                    "operation",
                    "truncate applies to the extend job only: it needs `operation = \"volume.action.os-extend\"`",
                ));
            }
        }
        Phase::Job => {
            if m.method.is_some() || m.path.is_some() {
                return Err(err(
                    "effect.transition",
                    "applies to a background job, which has no method or path; match it by operation, project and volume",
                ));
            }
            if !m.operations.is_empty() && !ops_within(operations::JOBS) {
                return Err(err(
                    "operation",
                    format!(
                        "a transition applies only to {}",
                        operations::JOBS.join(", ")
                    ),
                ));
            }
        }
        Phase::Attach => {
            let on_reads = m.operations.is_empty() || ops_within(&["nfs.read"]);
            if !on_reads || m.method.is_some() || m.path.is_some() {
                return Err(err(
                    "effect.bit_rot",
                    "happens when a volume is attached (no operation) or on NFS reads (operation = \"nfs.read\"); match it by project and volume otherwise",
                ));
            }
        }
        Phase::Hold => {
            const CALLS: [&str; 4] = [
                "attachment.create",
                "attachment.update",
                "attachment.complete",
                "attachment.delete",
            ];
            if m.method.is_some() || m.path.is_some() {
                return Err(err(
                    "effect.hold",
                    "applies after an attachment call has committed, which is matched by operation, project and volume, not by method or path",
                ));
            }
            if !m.operations.is_empty() && !ops_within(&CALLS) {
                return Err(err(
                    "operation",
                    format!("a hold applies only to {}", CALLS.join(", ")),
                ));
            }
        }
        Phase::Http => {
            let refuses = match effect {
                Effect::Http(HttpEffect::RefuseReserve { .. }) => true,
                Effect::Sequence(steps) => steps
                    .iter()
                    .any(|s| matches!(s, Step::Do(HttpEffect::RefuseReserve { .. }))),
                _ => false,
            };
            if refuses && !ops_within(&["attachment.create"]) {
                return Err(err(
                    "operation",
                    "refuse answers a reservation: it needs `operation = \"attachment.create\"`",
                ));
            }
            let mut lies = Vec::new();
            match effect {
                Effect::Http(HttpEffect::Lie(l)) => lies.push(l),
                Effect::Sequence(steps) => lies.extend(steps.iter().filter_map(|s| match s {
                    Step::Do(HttpEffect::Lie(l)) => Some(l),
                    _ => None,
                })),
                _ => {}
            }
            for lie in lies {
                let (allowed, what): (&[&str], _) = match lie {
                    Lie::Ack => (operations::ACKABLE, "lie = \"ack\""),
                    Lie::VolumeType(_) => (&["volume.create"], "lie = \"volume_type\""),
                    Lie::Status(_) => (&["volume.show"], "lie = \"status\""),
                };
                if !ops_within(allowed) {
                    return Err(err(
                        "operation",
                        format!("{what} needs `operation` limited to {}", allowed.join(", ")),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(rule: Value, expected: Result<(), &str>) {
        let got = parse_rule(&rule, "r")
            .map(|_| ())
            .map_err(|e| e.to_string());
        match (&got, expected) {
            (Ok(()), Ok(())) => {}
            (Err(msg), Err(want)) => assert!(msg.contains(want), "{rule}: {msg:?} lacks {want:?}"),
            _ => panic!("{rule}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn rules_table() {
        check(json!({"effect": "503"}), Ok(()));
        check(
            json!({"operation": "volume.create", "effect": {"error": 413, "retry_after_s": 5}}),
            Ok(()),
        );
        check(
            json!({"operation": ["volume.action.*", "attachment.*"], "effect": "close"}),
            Ok(()),
        );
        check(
            json!({"operation": "volume.craete", "effect": "503"}),
            Err("field `operation`: unknown operation \"volume.craete\""),
        );
        check(
            json!({"path": "/volume/[", "effect": "503"}),
            Err("field `path`: bad glob"),
        );
        check(
            json!({"trigger": {"probability": 1.5}, "effect": "503"}),
            Err("field `trigger.probability`: must be between 0 and 1"),
        );
        check(
            json!({"trigger": {"probability": 0.1, "seed": 3}, "effect": "503"}),
            Ok(()),
        );
        check(
            json!({"trigger": {"first": 0}, "effect": "503"}),
            Err("field `trigger.first`"),
        );
        check(
            json!({"trigger": {"first": 1, "nth": 2}, "effect": "503"}),
            Err("field `trigger`"),
        );
        check(
            json!({"trigger": {"probability": 0.5, "first": 2}, "effect": "503"}),
            Err("field `trigger.first`"),
        );
        check(
            json!({"effect": "teapot"}),
            Err("field `effect`: unknown effect"),
        );
        check(
            json!({"effect": {"explode": true}}),
            Err("field `effect`: exactly one kind"),
        );
        check(
            json!({"operation": "volume.create"}),
            Err("field `effect`: missing"),
        );
        check(
            json!({"operation": "volume.create", "effect": "503", "colour": "red"}),
            Err("field `colour`: unknown field"),
        );
        check(
            json!({"method": "FETCH", "effect": "503"}),
            Err("field `method`"),
        );
        check(
            json!({"effect": {"latency_ms": [500, 100]}}),
            Err("min is above max"),
        );
        check(
            json!({"effect": {"hang": true, "max_ms": 700000}}),
            Err("field `effect.max_ms`"),
        );
        check(
            json!({"effect": {"sequence": ["503", "503", "ok"]}}),
            Ok(()),
        );
        check(
            json!({"effect": {"sequence": []}}),
            Err("field `effect.sequence`"),
        );
        check(
            json!({"effect": {"sequence": ["503", "maybe"]}}),
            Err("field `effect.sequence[1]`"),
        );
        check(
            json!({"operation": "volume.create", "effect": {"transition": "stay"}}),
            Ok(()),
        );
        check(
            json!({"operation": "volume.show", "effect": {"transition": "stay"}}),
            Err("a transition applies only to"),
        );
        check(
            json!({"method": "POST", "effect": {"transition": "fail"}}),
            Err("no method or path"),
        );
        check(
            json!({"effect": {"transition": "slow"}}),
            Err("field `effect.delay_ms`: missing"),
        );
        check(
            json!({"effect": {"transition": "wobble"}}),
            Err("field `effect.transition`"),
        );
        check(
            json!({"volume_type": "glance-fast", "effect": {"bit_rot": 8, "seed": 1}}),
            Ok(()),
        );
        check(
            json!({"operation": "attachment.update", "effect": {"bit_rot": 8}}),
            Err("field `effect.bit_rot`"),
        );
        check(
            json!({"effect": {"lie": "ack"}}),
            Err("lie = \"ack\" needs `operation`"),
        );
        check(
            json!({"operation": "volume.show", "effect": {"lie": "ack"}}),
            Err("limited to"),
        );
        check(
            json!({"operation": "volume.delete", "effect": {"lie": "ack"}}),
            Ok(()),
        );
        check(
            json!({"operation": "volume.create", "effect": {"lie": "volume_type"}}),
            Err("field `effect.volume_type`: missing"),
        );
        check(
            json!({"operation": "volume.create", "effect": {"lie": "volume_type", "volume_type": "glance-old"}}),
            Ok(()),
        );
        check(
            json!({"id": "has space", "effect": "503"}),
            Err("field `id`"),
        );
        check(
            json!({"volume_metadata": {"image_id": "*"}, "effect": "500"}),
            Ok(()),
        );
        check(json!("503"), Err("field `rule`"));
        // Type errors and unknown keys come from the typed structs, with their path.
        check(
            json!({"trigger": {"probability": "often"}, "effect": "503"}),
            Err("field `trigger.probability`: invalid type"),
        );
        check(
            json!({"effect": {"error": "500"}}),
            Err("field `effect.error`: invalid type"),
        );
        check(
            json!({"effect": {"sequence": ["503", {"error": 500, "colour": 1}]}}),
            Err("field `effect.sequence[1]`: exactly one kind"),
        );
        check(
            json!({"effect": {"sequence": ["503", {"error": 600}]}}),
            Err("field `effect.sequence[1].error`: must be between 400 and 599"),
        );
        check(
            json!({"operation": 7, "effect": "503"}),
            Err("field `operation`"),
        );
        check(
            json!({"volume_metadata": {"image_id": 1}, "effect": "503"}),
            Err("field `volume_metadata.image_id`: invalid type"),
        );
        check(
            json!({"trigger": {"first": 1, "seed": 3}, "effect": "503"}),
            Err("field `trigger.seed`"),
        );
        check(
            json!({"trigger": {"every": 2}, "effect": "503"}),
            Err("field `trigger.every`: unknown field"),
        );
        check(
            json!({"effect": {"hang": false}}),
            Err("field `effect.hang`: must be true"),
        );
        check(
            json!({"effect": {"bit_rot": 8, "max_ms": 5}}),
            Err("field `effect.max_ms`: not allowed here"),
        );
        check(json!({"effect": 503}), Ok(()));
        check(json!({"effect": -1}), Err("between 400 and 599"));
        check(
            json!({"effect": {"latency_ms": [1, 2, 3]}}),
            Err("field `effect.latency_ms`: a range is [min, max]"),
        );
    }
}
