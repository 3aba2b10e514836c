//! QoS specs: named key/value sets with a consumer, associated with volume types
//! (a type has at most one; `qos_specs_id` on the type is the association).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{now, Timestamp, VolumeType};
use super::store::{Record, Tx};
use crate::error::ApiError;

pub const CONSUMERS: [&str; 3] = ["front-end", "back-end", "both"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QosSpecs {
    pub id: Uuid,
    pub name: String,
    pub consumer: String,
    pub specs: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

impl Record for QosSpecs {
    const KIND: &'static str = "qos_specs";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

pub fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("No such QoS spec {id}."))
}

fn type_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Volume type {id} could not be found."))
}

fn invalid_consumer() -> ApiError {
    ApiError::bad_request(format!(
        "Invalid qos specs: Valid consumer of QoS specs are: {CONSUMERS:?}"
    ))
}

/// Splits `consumer` out of the given keys and checks it.
fn take_consumer(specs: &mut BTreeMap<String, String>) -> Result<Option<String>, ApiError> {
    match specs.remove("consumer") {
        None => Ok(None),
        Some(c) if CONSUMERS.contains(&c.as_str()) => Ok(Some(c)),
        Some(_) => Err(invalid_consumer()),
    }
}

pub fn get(tx: &Tx<'_>, raw: &str) -> Result<QosSpecs, ApiError> {
    Uuid::parse_str(raw)
        .ok()
        .and_then(|id| tx.record::<QosSpecs>(&id.to_string()))
        .ok_or_else(|| not_found(raw))
}

pub fn create(
    tx: &mut Tx<'_>,
    name: String,
    mut specs: BTreeMap<String, String>,
) -> Result<QosSpecs, ApiError> {
    let consumer = take_consumer(&mut specs)?.unwrap_or_else(|| "back-end".into());
    if tx.records::<QosSpecs>().iter().any(|q| q.name == name) {
        return Err(ApiError::Conflict(format!(
            "QoS Specs {name} already exists."
        )));
    }
    let q = QosSpecs {
        id: Uuid::new_v4(),
        name,
        consumer,
        specs,
        created_at: now(),
    };
    tx.put_record(&q);
    Ok(q)
}

/// `PUT /qos-specs/{id}`: sets (or, with a null value, keeps Cinder's null) keys.
pub fn set_keys(
    tx: &mut Tx<'_>,
    raw: &str,
    mut specs: BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let mut q = get(tx, raw)?;
    if let Some(c) = take_consumer(&mut specs)? {
        q.consumer = c;
    }
    q.specs.extend(specs);
    tx.put_record(&q);
    Ok(())
}

pub fn unset_keys(tx: &mut Tx<'_>, raw: &str, keys: &[String]) -> Result<(), ApiError> {
    let mut q = get(tx, raw)?;
    for k in keys {
        if q.specs.remove(k).is_none() {
            return Err(ApiError::not_found(format!(
                "QoS spec {} has no spec with key {k}.",
                q.id
            )));
        }
    }
    tx.put_record(&q);
    Ok(())
}

fn associated(tx: &Tx<'_>, id: Uuid) -> Vec<VolumeType> {
    tx.types()
        .filter(|t| t.qos_specs_id == Some(id))
        .cloned()
        .collect()
}

/// `(type id, type name)` of every type associated with these specs.
pub fn associations(tx: &Tx<'_>, raw: &str) -> Result<Vec<(Uuid, String)>, ApiError> {
    let q = get(tx, raw)?;
    let mut out: Vec<(Uuid, String)> = associated(tx, q.id)
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// Deletes the specs; in use, only with `force`, which disassociates them first.
pub fn delete(tx: &mut Tx<'_>, raw: &str, force: bool) -> Result<(), ApiError> {
    let q = get(tx, raw)?;
    let users = associated(tx, q.id);
    if !users.is_empty() && !force {
        return Err(ApiError::bad_request("Qos specs still in use."));
    }
    for mut t in users {
        t.qos_specs_id = None;
        tx.put_type(t);
    }
    tx.remove_record::<QosSpecs>(&q.key());
    Ok(())
}

fn type_of(tx: &Tx<'_>, raw_type: &str) -> Result<VolumeType, ApiError> {
    Uuid::parse_str(raw_type)
        .ok()
        .and_then(|id| tx.volume_type(id).cloned())
        .ok_or_else(|| type_not_found(raw_type))
}

pub fn associate(tx: &mut Tx<'_>, raw: &str, raw_type: &str) -> Result<(), ApiError> {
    let q = get(tx, raw)?;
    let mut t = type_of(tx, raw_type)?;
    match t.qos_specs_id {
        Some(other) if other != q.id => {
            return Err(ApiError::bad_request(format!(
            "Invalid volume type: Type {} is already associated with another qos specs: {other}",
            t.id
        )))
        }
        Some(_) | None => {}
    }
    t.qos_specs_id = Some(q.id);
    tx.put_type(t);
    Ok(())
}

pub fn disassociate(tx: &mut Tx<'_>, raw: &str, raw_type: &str) -> Result<(), ApiError> {
    let q = get(tx, raw)?;
    let mut t = type_of(tx, raw_type)?;
    if t.qos_specs_id == Some(q.id) {
        t.qos_specs_id = None;
        tx.put_type(t);
    }
    Ok(())
}

pub fn disassociate_all(tx: &mut Tx<'_>, raw: &str) -> Result<(), ApiError> {
    let q = get(tx, raw)?;
    for mut t in associated(tx, q.id) {
        t.qos_specs_id = None;
        tx.put_type(t);
    }
    Ok(())
}
