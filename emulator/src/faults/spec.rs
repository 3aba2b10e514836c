//! A fault rule as written: typed serde structs (unknown keys refused), read from the
//! JSON of the control API or a scenario's TOML with `serde_path_to_error`, so a refusal
//! names the field. `parse` and `parse_effect` turn them into [`super::rule::Rule`]s.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, value::MapAccessDeserializer, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::parse::{err, RuleError};

/// One rule (`[[rule]]` table or control-API body).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a rule table")]
pub struct RuleSpec {
    pub id: Option<String>,
    pub description: Option<String>,
    pub operation: Option<OneOrMany>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub project: Option<String>,
    pub volume_type: Option<String>,
    pub volume_name: Option<String>,
    pub volume_metadata: Option<BTreeMap<String, String>>,
    pub trigger: Option<Shape<TriggerTable>>,
    pub effect: Option<Shape<EffectTable>>,
}

/// `operation = "volume.create"` or `operation = ["volume.*", "attachment.*"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a string or a list of strings")]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// A value written as a string shortcut, a bare number or a table.
#[derive(Debug)]
pub enum Shape<T> {
    Str(String),
    Int(i64),
    Table(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Shape<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ShapeVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ShapeVisitor<T> {
            type Value = Shape<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string shortcut or a table")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Shape<T>, E> {
                Ok(Shape::Str(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Shape<T>, E> {
                Ok(Shape::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Shape<T>, E> {
                i64::try_from(v)
                    .map(Shape::Int)
                    .map_err(|_| E::custom("number out of range"))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Shape<T>, A::Error> {
                // The map keeps its path tracking, so errors inside name the inner key.
                T::deserialize(MapAccessDeserializer::new(map)).map(Shape::Table)
            }
        }
        d.deserialize_any(ShapeVisitor(PhantomData))
    }
}

/// `trigger = { first = 3 }`, `{ nth = 2 }`, `{ after = 5 }`, `{ probability = 0.1, seed = 7 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerTable {
    pub first: Option<u64>,
    pub nth: Option<u64>,
    pub after: Option<u64>,
    pub probability: Option<f64>,
    pub seed: Option<u64>,
}

/// `latency_ms = 200` or `latency_ms = [100, 900]`.
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a number of milliseconds or a range [min, max]")]
pub enum Latency {
    Fixed(u64),
    Range(Vec<u64>),
}

/// Every key an effect table may hold; which combinations are allowed (one kind key and
/// that kind's options) is checked when it becomes an [`super::rule::Effect`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EffectTable {
    pub error: Option<u64>,
    pub message: Option<String>,
    pub key: Option<String>,
    pub retry_after_s: Option<u64>,
    pub applied: Option<bool>,
    pub latency_ms: Option<Latency>,
    pub hang: Option<bool>,
    pub max_ms: Option<u64>,
    pub close: Option<bool>,
    pub sequence: Option<Vec<Shape<EffectTable>>>,
    pub transition: Option<String>,
    pub for_ms: Option<u64>,
    pub delay_ms: Option<u64>,
    pub bit_rot: Option<u64>,
    pub seed: Option<u64>,
    pub region_mib: Option<u64>,
    pub lie: Option<String>,
    pub volume_type: Option<String>,
    pub status: Option<String>,
    pub hold: Option<String>,
    pub refuse: Option<String>,
    pub truncate: Option<bool>,
}

/// The kind keys of an effect table: exactly one per table.
pub const EFFECT_KINDS: &[&str] = &[
    "error",
    "latency_ms",
    "hang",
    "close",
    "sequence",
    "transition",
    "bit_rot",
    "lie",
    "hold",
    "refuse",
    "truncate",
];

impl EffectTable {
    /// The keys written in this table, in declaration order.
    pub fn keys(&self) -> Vec<&'static str> {
        let present = [
            ("error", self.error.is_some()),
            ("message", self.message.is_some()),
            ("key", self.key.is_some()),
            ("retry_after_s", self.retry_after_s.is_some()),
            ("applied", self.applied.is_some()),
            ("latency_ms", self.latency_ms.is_some()),
            ("hang", self.hang.is_some()),
            ("max_ms", self.max_ms.is_some()),
            ("close", self.close.is_some()),
            ("sequence", self.sequence.is_some()),
            ("transition", self.transition.is_some()),
            ("for_ms", self.for_ms.is_some()),
            ("delay_ms", self.delay_ms.is_some()),
            ("bit_rot", self.bit_rot.is_some()),
            ("seed", self.seed.is_some()),
            ("region_mib", self.region_mib.is_some()),
            ("lie", self.lie.is_some()),
            ("volume_type", self.volume_type.is_some()),
            ("status", self.status.is_some()),
            ("hold", self.hold.is_some()),
            ("refuse", self.refuse.is_some()),
            ("truncate", self.truncate.is_some()),
        ];
        present
            .into_iter()
            .filter_map(|(k, set)| set.then_some(k))
            .collect()
    }
}

/// Reads a rule, naming the field of the first thing wrong with it.
pub fn read(v: &Value) -> Result<RuleSpec, RuleError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        if path == "." {
            return err("rule", message);
        }
        // A key no effect has: say so at the effect, which is what the user got wrong.
        if let Some((table, key)) = path.rsplit_once('.') {
            let effect_table = table == "effect" || table.starts_with("effect.sequence[");
            if effect_table && message.starts_with("unknown field") {
                return err(
                    table,
                    format!(
                        "exactly one kind of effect ({}) with its options; `{key}` is not one",
                        EFFECT_KINDS.join(", ")
                    ),
                );
            }
        }
        err(&path, message)
    })
}
