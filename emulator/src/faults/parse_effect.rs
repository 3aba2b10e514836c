//! Parses a rule's `effect`: the string shortcuts (`"503"`, `"close"`, `"hang"`) and the
//! tables with one kind key each, with Cinder's envelope keys and messages for errors.

use serde_json::{Map, Value};

use super::parse::{err, nonempty, string, uint, RuleError};
use super::rule::*;

const EFFECT_KINDS: &[&str] = &[
    "error",
    "latency_ms",
    "hang",
    "close",
    "sequence",
    "transition",
    "bit_rot",
    "lie",
];

/// `"503"`, `"close"`, ... or a table with exactly one kind key.
pub fn parse_effect(v: &Value) -> Result<Effect, RuleError> {
    if let Some(obj) = v.as_object() {
        if obj.contains_key("sequence") {
            only(obj, "effect", &["sequence"])?;
            let items = obj["sequence"]
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| err("effect.sequence", "must be a non-empty list of steps"))?;
            let steps = items
                .iter()
                .enumerate()
                .map(|(i, s)| parse_step(s, &format!("effect.sequence[{i}]")))
                .collect::<Result<_, _>>()?;
            return Ok(Effect::Sequence(steps));
        }
        let kinds: Vec<&String> = obj
            .keys()
            .filter(|k| EFFECT_KINDS.contains(&k.as_str()))
            .collect();
        if kinds.len() != 1 {
            return Err(err(
                "effect",
                format!("exactly one kind of effect: {}", EFFECT_KINDS.join(", ")),
            ));
        }
        match kinds[0].as_str() {
            "transition" => return parse_transition(obj).map(Effect::Transition),
            "bit_rot" => {
                only(obj, "effect", &["bit_rot", "seed", "region_mib"])?;
                return Ok(Effect::BitRot {
                    bytes: uint(&obj["bit_rot"], "effect.bit_rot", 1, 4096)? as u32,
                    seed: match obj.get("seed") {
                        Some(s) => uint(s, "effect.seed", 0, u64::MAX)?,
                        None => 0,
                    },
                    region_mib: match obj.get("region_mib") {
                        Some(r) => uint(r, "effect.region_mib", 1, 1024)?,
                        None => 64,
                    },
                });
            }
            _ => {}
        }
    }
    parse_http(v, "effect").map(Effect::Http)
}

fn parse_step(v: &Value, field: &str) -> Result<Step, RuleError> {
    if v.as_str() == Some("ok") {
        return Ok(Step::Ok);
    }
    parse_http(v, field).map(Step::Do)
}

fn only(obj: &Map<String, Value>, field: &str, keys: &[&str]) -> Result<(), RuleError> {
    match obj.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(k) => Err(err(
            &format!("{field}.{k}"),
            format!("not allowed here; expected {}", keys.join(", ")),
        )),
        None => Ok(()),
    }
}

/// The default envelope key and message for an injected status, as Cinder words them;
/// the key comes from the emulator's one status → key table.
pub fn cinder_fault(status: u16) -> (&'static str, &'static str) {
    let message = match status {
        400 => "Invalid input received.",
        401 => "The request you have made requires authentication.",
        403 => "Policy doesn't allow this to be performed.",
        404 => "The resource could not be found.",
        405 => "The method specified is not allowed for this resource.",
        409 => "There was a conflict.",
        413 => "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota.",
        415 => "The media type is not supported.",
        501 => "The requested method is not implemented.",
        503 => "The server is currently unavailable. Please try again at a later time.",
        _ => "The server has either erred or is incapable of performing the requested operation.",
    };
    (crate::error::cinder_key_for(status), message)
}

fn error_spec(status: u16) -> ErrorSpec {
    let (key, message) = cinder_fault(status);
    ErrorSpec {
        status,
        key: key.to_string(),
        message: message.to_string(),
        retry_after_s: (status == 413).then_some(0),
        applied: false,
    }
}

fn parse_http(v: &Value, field: &str) -> Result<HttpEffect, RuleError> {
    if let Some(s) = v.as_str() {
        return match s {
            "close" => Ok(HttpEffect::Close),
            "hang" => Ok(HttpEffect::Hang {
                max_ms: MAX_WAIT_MS,
            }),
            _ => match s.parse::<u16>() {
                Ok(code @ 400..=599) => Ok(HttpEffect::Error(error_spec(code))),
                _ => Err(err(
                    field,
                    format!("unknown effect {s:?}; shortcuts are an HTTP status (\"503\", \"500\", \"413\", \"401\", ...), \"close\", \"hang\" (and \"ok\" in a sequence)"),
                )),
            },
        };
    }
    if let Some(code) = v.as_u64() {
        return match code {
            400..=599 => Ok(HttpEffect::Error(error_spec(code as u16))),
            _ => Err(err(field, "an HTTP error status is between 400 and 599")),
        };
    }
    let obj = v
        .as_object()
        .ok_or_else(|| err(field, "must be a string shortcut or a table"))?;
    let f = |k: &str| format!("{field}.{k}");
    if let Some(code) = obj.get("error") {
        only(
            obj,
            field,
            &["error", "message", "key", "retry_after_s", "applied"],
        )?;
        let status = uint(code, &f("error"), 400, 599)? as u16;
        let mut spec = error_spec(status);
        if let Some(m) = obj.get("message") {
            spec.message = string(m, &f("message"))?;
        }
        if let Some(k) = obj.get("key") {
            spec.key = nonempty(k, &f("key"))?;
        }
        if let Some(r) = obj.get("retry_after_s") {
            spec.retry_after_s = Some(uint(r, &f("retry_after_s"), 0, 86_400)?);
        }
        if let Some(a) = obj.get("applied") {
            spec.applied = a
                .as_bool()
                .ok_or_else(|| err(&f("applied"), "must be true or false"))?;
        }
        return Ok(HttpEffect::Error(spec));
    }
    if let Some(l) = obj.get("latency_ms") {
        only(obj, field, &["latency_ms"])?;
        let (min_ms, max_ms) = match l.as_array() {
            Some(pair) if pair.len() == 2 => (
                uint(&pair[0], &f("latency_ms[0]"), 0, MAX_WAIT_MS)?,
                uint(&pair[1], &f("latency_ms[1]"), 0, MAX_WAIT_MS)?,
            ),
            Some(_) => return Err(err(&f("latency_ms"), "a range is [min, max]")),
            None => {
                let n = uint(l, &f("latency_ms"), 0, MAX_WAIT_MS)?;
                (n, n)
            }
        };
        if min_ms > max_ms {
            return Err(err(&f("latency_ms"), "min is above max"));
        }
        return Ok(HttpEffect::Latency { min_ms, max_ms });
    }
    if let Some(h) = obj.get("hang") {
        only(obj, field, &["hang", "max_ms"])?;
        if h != &Value::Bool(true) {
            return Err(err(&f("hang"), "must be true"));
        }
        let max_ms = match obj.get("max_ms") {
            Some(m) => uint(m, &f("max_ms"), 1, MAX_WAIT_MS)?,
            None => MAX_WAIT_MS,
        };
        return Ok(HttpEffect::Hang { max_ms });
    }
    if let Some(c) = obj.get("close") {
        only(obj, field, &["close"])?;
        if c != &Value::Bool(true) {
            return Err(err(&f("close"), "must be true"));
        }
        return Ok(HttpEffect::Close);
    }
    if let Some(l) = obj.get("lie") {
        only(obj, field, &["lie", "volume_type"])?;
        return match l.as_str() {
            Some("ack") if !obj.contains_key("volume_type") => Ok(HttpEffect::Lie(Lie::Ack)),
            Some("ack") => Err(err(&f("volume_type"), "only with lie = \"volume_type\"")),
            Some("volume_type") => {
                let t = obj
                    .get("volume_type")
                    .ok_or_else(|| err(&f("volume_type"), "missing: the type to create instead"))?;
                Ok(HttpEffect::Lie(Lie::VolumeType(nonempty(
                    t,
                    &f("volume_type"),
                )?)))
            }
            _ => Err(err(&f("lie"), "one of \"ack\", \"volume_type\"")),
        };
    }
    if obj.contains_key("transition") || obj.contains_key("bit_rot") {
        return Err(err(
            field,
            "transition and bit_rot cannot be sequence steps",
        ));
    }
    Err(err(
        field,
        format!(
            "unknown effect; expected one of {}",
            EFFECT_KINDS.join(", ")
        ),
    ))
}

fn parse_transition(obj: &Map<String, Value>) -> Result<TransitionSpec, RuleError> {
    let kind = obj["transition"].as_str().unwrap_or_default();
    let ms = |k: &str| -> Result<Option<u64>, RuleError> {
        obj.get(k)
            .map(|v| uint(v, &format!("effect.{k}"), 0, MAX_TRANSITION_MS))
            .transpose()
    };
    match kind {
        "stay" => {
            only(obj, "effect", &["transition", "for_ms"])?;
            Ok(TransitionSpec::Stay {
                for_ms: ms("for_ms")?,
            })
        }
        "fail" => {
            only(obj, "effect", &["transition", "delay_ms"])?;
            Ok(TransitionSpec::Fail {
                delay_ms: ms("delay_ms")?,
            })
        }
        "slow" => {
            only(obj, "effect", &["transition", "delay_ms"])?;
            let delay_ms = ms("delay_ms")?
                .ok_or_else(|| err("effect.delay_ms", "missing: how long the transition takes"))?;
            Ok(TransitionSpec::Slow { delay_ms })
        }
        _ => Err(err(
            "effect.transition",
            "one of \"stay\", \"fail\", \"slow\"",
        )),
    }
}
