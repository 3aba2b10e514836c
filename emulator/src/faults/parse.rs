//! Turns one rule, written as JSON (control API) or TOML (scenario file, converted to
//! JSON first), into a validated [`Rule`]. Every refusal names the field at fault, so
//! "field `trigger.probability`: must be between 0 and 1" reaches the user verbatim.

use globset::GlobBuilder;
use serde_json::{Map, Value};

use super::operations;
pub use super::parse_effect::{cinder_fault, parse_effect};
use super::rule::*;

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

const RULE_KEYS: &[&str] = &[
    "id",
    "description",
    "operation",
    "method",
    "path",
    "project",
    "volume_type",
    "volume_name",
    "volume_metadata",
    "trigger",
    "effect",
];

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// Validates one rule; `default_id` is used when the rule names none.
pub fn parse_rule(v: &Value, default_id: &str) -> Result<Rule, RuleError> {
    let obj = v
        .as_object()
        .ok_or_else(|| err("rule", "a rule must be an object (table)"))?;
    if let Some(k) = obj.keys().find(|k| !RULE_KEYS.contains(&k.as_str())) {
        return Err(err(
            k,
            format!("unknown field; expected one of {}", RULE_KEYS.join(", ")),
        ));
    }
    let id = match obj.get("id") {
        None => default_id.to_string(),
        Some(v) => {
            let s = string(v, "id")?;
            let ok = !s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                return Err(err("id", "1 to 64 characters of A-Z a-z 0-9 - _ ."));
            }
            s
        }
    };
    let description = obj
        .get("description")
        .map(|v| string(v, "description"))
        .transpose()?;
    let matcher = parse_match(obj)?;
    let trigger = match obj.get("trigger") {
        None => Trigger::Always,
        Some(t) => parse_trigger(t)?,
    };
    let effect = parse_effect(obj.get("effect").ok_or_else(|| {
        err(
            "effect",
            "missing: every rule needs an effect (e.g. effect = \"503\")",
        )
    })?)?;
    check_fit(&matcher, &effect)?;
    Ok(Rule {
        id,
        description,
        matcher,
        trigger,
        effect,
        spec: v.clone(),
    })
}

pub(super) fn string(v: &Value, field: &str) -> Result<String, RuleError> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| err(field, "must be a string"))
}

pub(super) fn nonempty(v: &Value, field: &str) -> Result<String, RuleError> {
    let s = string(v, field)?;
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

pub(super) fn uint(v: &Value, field: &str, min: u64, max: u64) -> Result<u64, RuleError> {
    let n = v
        .as_u64()
        .ok_or_else(|| err(field, "must be a non-negative integer"))?;
    if n < min || n > max {
        return Err(err(field, format!("must be between {min} and {max}")));
    }
    Ok(n)
}

fn parse_match(obj: &Map<String, Value>) -> Result<Match, RuleError> {
    let mut m = Match::default();
    if let Some(v) = obj.get("operation") {
        let names: Vec<String> = match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .map(|i| string(i, "operation"))
                .collect::<Result<_, _>>()?,
            _ => return Err(err("operation", "must be a string or a list of strings")),
        };
        if names.is_empty() {
            return Err(err("operation", "an empty list matches nothing"));
        }
        let known = operations::all();
        for name in names {
            let p = glob(&name, "operation")?;
            if !known.iter().any(|k| p.is_match(k)) {
                return Err(err(
                    "operation",
                    format!("unknown operation {name:?} (docs/faults.md lists them all)"),
                ));
            }
            m.operations.push(p);
        }
    }
    if let Some(v) = obj.get("method") {
        let s = string(v, "method")?.to_ascii_uppercase();
        if !METHODS.contains(&s.as_str()) {
            return Err(err(
                "method",
                format!(
                    "unknown method {s:?}; expected one of {}",
                    METHODS.join(", ")
                ),
            ));
        }
        m.method = Some(s);
    }
    if let Some(v) = obj.get("path") {
        let s = nonempty(v, "path")?;
        if !s.starts_with('/') && !s.starts_with('*') {
            return Err(err("path", "a path glob starts with `/` (or `*`)"));
        }
        m.path = Some(glob(&s, "path")?);
    }
    if let Some(v) = obj.get("project") {
        m.project = Some(nonempty(v, "project")?);
    }
    if let Some(v) = obj.get("volume_type") {
        m.volume_type = Some(nonempty(v, "volume_type")?);
    }
    if let Some(v) = obj.get("volume_name") {
        m.volume_name = Some(glob(&string(v, "volume_name")?, "volume_name")?);
    }
    if let Some(v) = obj.get("volume_metadata") {
        let md = v
            .as_object()
            .ok_or_else(|| err("volume_metadata", "must be a table of key = \"glob\""))?;
        for (k, g) in md {
            let field = format!("volume_metadata.{k}");
            m.volume_metadata
                .push((k.clone(), glob(&string(g, &field)?, &field)?));
        }
    }
    Ok(m)
}

fn parse_trigger(v: &Value) -> Result<Trigger, RuleError> {
    if v.as_str() == Some("always") {
        return Ok(Trigger::Always);
    }
    let obj = v.as_object().ok_or_else(|| {
        err(
            "trigger",
            "\"always\" or a table with one of first, nth, after, probability",
        )
    })?;
    let allowed: &[&str] = if obj.contains_key("probability") {
        &["probability", "seed"]
    } else {
        &["first", "nth", "after"]
    };
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(err(
            &format!("trigger.{k}"),
            "unknown or misplaced field; use one of first, nth, after, or probability (+ seed)",
        ));
    }
    if obj.len() != 1 && !obj.contains_key("probability") {
        return Err(err("trigger", "exactly one of first, nth, after"));
    }
    if let Some(p) = obj.get("probability") {
        let p = p
            .as_f64()
            .ok_or_else(|| err("trigger.probability", "must be a number"))?;
        if !(0.0..=1.0).contains(&p) {
            return Err(err("trigger.probability", "must be between 0 and 1"));
        }
        let seed = match obj.get("seed") {
            Some(s) => uint(s, "trigger.seed", 0, u64::MAX)?,
            None => 0,
        };
        return Ok(Trigger::Probability { p, seed });
    }
    let (k, n) = obj.iter().next().expect("one key checked above");
    let field = format!("trigger.{k}");
    Ok(match k.as_str() {
        "first" => Trigger::First(uint(n, &field, 1, u64::MAX)?),
        "nth" => Trigger::Nth(uint(n, &field, 1, u64::MAX)?),
        _ => Trigger::After(uint(n, &field, 0, u64::MAX)?),
    })
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
        Phase::Http => {
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
    }
}
