//! Turns a rule's `effect` as written ([`Shape`] of an [`EffectTable`]) into an
//! [`Effect`]: the string shortcuts (`"503"`, `"close"`, `"hang"`) and the tables with one
//! kind key each and that kind's options, with Cinder's envelope keys and messages.

use super::parse::{err, nonempty, within, RuleError};
use super::rule::*;
use super::spec::{EffectTable, Latency, Shape, EFFECT_KINDS};
use crate::volume::status::VolumeStatus;

/// A volume status as Cinder spells it (`in-use`, `detaching`, ...).
fn volume_status(text: &str, field: &str) -> Result<VolumeStatus, RuleError> {
    text.parse()
        .map_err(|_| err(field, format!("{text:?} is not a Cinder volume status")))
}

fn hold_statuses_expected() -> String {
    let names: Vec<String> = HOLD_STATUSES.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "one of {}: the statuses of the attach flow",
        names.join(", ")
    )
}

impl TryFrom<Shape<EffectTable>> for Effect {
    type Error = RuleError;

    /// `"503"`, `"close"`, ... or a table with exactly one kind key.
    fn try_from(v: Shape<EffectTable>) -> Result<Effect, RuleError> {
        let t = match v {
            Shape::Table(t) => t,
            shortcut => return http(shortcut, "effect").map(Effect::Http),
        };
        let keys = t.keys();
        if let Some(steps) = t.sequence {
            only(&keys, "effect", &["sequence"])?;
            if steps.is_empty() {
                return Err(err("effect.sequence", "must be a non-empty list of steps"));
            }
            let steps = steps
                .into_iter()
                .enumerate()
                .map(|(i, s)| step(s, &format!("effect.sequence[{i}]")))
                .collect::<Result<_, _>>()?;
            return Ok(Effect::Sequence(steps));
        }
        if keys.iter().filter(|k| EFFECT_KINDS.contains(k)).count() != 1 {
            return Err(err(
                "effect",
                format!("exactly one kind of effect: {}", EFFECT_KINDS.join(", ")),
            ));
        }
        if let Some(kind) = &t.transition {
            return transition(kind, &t, &keys).map(Effect::Transition);
        }
        if let Some(status) = &t.hold {
            only(&keys, "effect", &["hold", "for_ms"])?;
            let status = volume_status(status, "effect.hold")?;
            if !HOLD_STATUSES.contains(&status) {
                return Err(err("effect.hold", hold_statuses_expected()));
            }
            let for_ms = t
                .for_ms
                .ok_or_else(|| err("effect.for_ms", "missing: how long the hold lasts"))?;
            return Ok(Effect::Hold {
                status,
                for_ms: within(for_ms, "effect.for_ms", 1, MAX_TRANSITION_MS)?,
            });
        }
        if let Some(truncate) = t.truncate {
            only(&keys, "effect", &["truncate"])?;
            if !truncate {
                return Err(err("effect.truncate", "must be true"));
            }
            return Ok(Effect::Truncate);
        }
        if let Some(bytes) = t.bit_rot {
            only(&keys, "effect", &["bit_rot", "seed", "region_mib"])?;
            return Ok(Effect::BitRot {
                bytes: within(bytes, "effect.bit_rot", 1, 4096)? as u32,
                seed: t.seed.unwrap_or(0),
                region_mib: match t.region_mib {
                    Some(r) => within(r, "effect.region_mib", 1, 1024)?,
                    None => 64,
                },
            });
        }
        http(Shape::Table(t), "effect").map(Effect::Http)
    }
}

fn step(v: Shape<EffectTable>, field: &str) -> Result<Step, RuleError> {
    match v {
        Shape::Str(s) if s == "ok" => Ok(Step::Ok),
        other => http(other, field).map(Step::Do),
    }
}

fn only(keys: &[&str], field: &str, allowed: &[&str]) -> Result<(), RuleError> {
    match keys.iter().find(|k| !allowed.contains(k)) {
        Some(k) => Err(err(
            &format!("{field}.{k}"),
            format!("not allowed here; expected {}", allowed.join(", ")),
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

fn http(v: Shape<EffectTable>, field: &str) -> Result<HttpEffect, RuleError> {
    let t = match v {
        Shape::Str(s) => {
            return match s.as_str() {
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
        Shape::Int(code) => {
            return match u16::try_from(code) {
                Ok(code @ 400..=599) => Ok(HttpEffect::Error(error_spec(code))),
                _ => Err(err(field, "an HTTP error status is between 400 and 599")),
            };
        }
        Shape::Table(t) => t,
    };
    let keys = t.keys();
    let f = |k: &str| format!("{field}.{k}");
    if let Some(code) = t.error {
        only(
            &keys,
            field,
            &["error", "message", "key", "retry_after_s", "applied"],
        )?;
        let mut spec = error_spec(within(code, &f("error"), 400, 599)? as u16);
        if let Some(m) = t.message {
            spec.message = m;
        }
        if let Some(k) = t.key {
            spec.key = nonempty(k, &f("key"))?;
        }
        if let Some(r) = t.retry_after_s {
            spec.retry_after_s = Some(within(r, &f("retry_after_s"), 0, 86_400)?);
        }
        if let Some(a) = t.applied {
            spec.applied = a;
        }
        return Ok(HttpEffect::Error(spec));
    }
    if let Some(l) = t.latency_ms {
        only(&keys, field, &["latency_ms"])?;
        let (min_ms, max_ms) = match l {
            Latency::Range(pair) => match pair[..] {
                [min, max] => (
                    within(min, &f("latency_ms[0]"), 0, MAX_WAIT_MS)?,
                    within(max, &f("latency_ms[1]"), 0, MAX_WAIT_MS)?,
                ),
                _ => return Err(err(&f("latency_ms"), "a range is [min, max]")),
            },
            Latency::Fixed(n) => {
                let n = within(n, &f("latency_ms"), 0, MAX_WAIT_MS)?;
                (n, n)
            }
        };
        if min_ms > max_ms {
            return Err(err(&f("latency_ms"), "min is above max"));
        }
        return Ok(HttpEffect::Latency { min_ms, max_ms });
    }
    if let Some(h) = t.hang {
        only(&keys, field, &["hang", "max_ms"])?;
        if !h {
            return Err(err(&f("hang"), "must be true"));
        }
        let max_ms = match t.max_ms {
            Some(m) => within(m, &f("max_ms"), 1, MAX_WAIT_MS)?,
            None => MAX_WAIT_MS,
        };
        return Ok(HttpEffect::Hang { max_ms });
    }
    if let Some(c) = t.close {
        only(&keys, field, &["close"])?;
        if !c {
            return Err(err(&f("close"), "must be true"));
        }
        return Ok(HttpEffect::Close);
    }
    if let Some(l) = t.lie {
        only(&keys, field, &["lie", "volume_type", "status"])?;
        if t.status.is_some() && l != "status" {
            return Err(err(&f("status"), "only with lie = \"status\""));
        }
        return match (l.as_str(), t.volume_type) {
            ("ack", None) => Ok(HttpEffect::Lie(Lie::Ack)),
            ("ack", Some(_)) | ("status", Some(_)) => {
                Err(err(&f("volume_type"), "only with lie = \"volume_type\""))
            }
            ("status", None) => match t.status {
                Some(s) => Ok(HttpEffect::Lie(Lie::Status(volume_status(
                    &s,
                    &f("status"),
                )?))),
                None => Err(err(&f("status"), "missing: the status to report instead")),
            },
            ("volume_type", Some(vt)) => Ok(HttpEffect::Lie(Lie::VolumeType(nonempty(
                vt,
                &f("volume_type"),
            )?))),
            ("volume_type", None) => Err(err(
                &f("volume_type"),
                "missing: the type to create instead",
            )),
            _ => Err(err(
                &f("lie"),
                "one of \"ack\", \"volume_type\", \"status\"",
            )),
        };
    }
    if let Some(status) = t.refuse {
        only(&keys, field, &["refuse"])?;
        let status = volume_status(&status, &f("refuse"))?;
        if matches!(status, VolumeStatus::Available | VolumeStatus::Downloading) {
            return Err(err(
                &f("refuse"),
                "a volume that is available or downloading can be reserved; name the status it is refused in (reserved, attaching, detaching, in-use, ...)",
            ));
        }
        return Ok(HttpEffect::RefuseReserve { status });
    }
    if t.transition.is_some() || t.bit_rot.is_some() || t.hold.is_some() || t.truncate.is_some() {
        return Err(err(
            field,
            "transition, bit_rot, hold and truncate cannot be sequence steps",
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

fn transition(kind: &str, t: &EffectTable, keys: &[&str]) -> Result<TransitionSpec, RuleError> {
    let ms = |v: Option<u64>, k: &str| -> Result<Option<u64>, RuleError> {
        v.map(|n| within(n, &format!("effect.{k}"), 0, MAX_TRANSITION_MS))
            .transpose()
    };
    match kind {
        "stay" => {
            only(keys, "effect", &["transition", "for_ms"])?;
            Ok(TransitionSpec::Stay {
                for_ms: ms(t.for_ms, "for_ms")?,
            })
        }
        "fail" => {
            only(keys, "effect", &["transition", "delay_ms"])?;
            Ok(TransitionSpec::Fail {
                delay_ms: ms(t.delay_ms, "delay_ms")?,
            })
        }
        "slow" => {
            only(keys, "effect", &["transition", "delay_ms"])?;
            let delay_ms = ms(t.delay_ms, "delay_ms")?
                .ok_or_else(|| err("effect.delay_ms", "missing: how long the transition takes"))?;
            Ok(TransitionSpec::Slow { delay_ms })
        }
        _ => Err(err(
            "effect.transition",
            "one of \"stay\", \"fail\", \"slow\"",
        )),
    }
}
