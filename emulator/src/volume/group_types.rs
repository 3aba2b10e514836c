//! Group types (3.11): named, public or private, with group specs; the built-in
//! `default_group_type` is seeded with the world as Cinder's migration creates it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::store::{Record, Tx};
use crate::error::ApiError;

pub const DEFAULT_NAME: &str = "default_group_type";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupType {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub is_public: bool,
    pub group_specs: BTreeMap<String, String>,
}

impl Record for GroupType {
    const KIND: &'static str = "group_type";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

pub fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Group type {id} could not be found."))
}

pub fn get(tx: &Tx<'_>, raw: &str) -> Result<GroupType, ApiError> {
    Uuid::parse_str(raw)
        .ok()
        .and_then(|id| tx.record::<GroupType>(&id.to_string()))
        .ok_or_else(|| not_found(raw))
}

/// The seeded default group type, if it was not deleted.
pub fn default(tx: &Tx<'_>) -> Result<GroupType, ApiError> {
    tx.records::<GroupType>()
        .into_iter()
        .find(|g| g.name == DEFAULT_NAME)
        .ok_or_else(|| ApiError::not_found("Default group type can not be found."))
}

/// Seeds `default_group_type` (called once per data dir, with the volume types).
pub fn seed(tx: &mut Tx<'_>) {
    if tx
        .records::<GroupType>()
        .iter()
        .any(|g| g.name == DEFAULT_NAME)
    {
        return;
    }
    tx.put_record(&GroupType {
        id: Uuid::new_v5(&Uuid::NAMESPACE_OID, DEFAULT_NAME.as_bytes()),
        name: DEFAULT_NAME.into(),
        description: Some("Default group type".into()),
        is_public: true,
        group_specs: BTreeMap::new(),
    });
}

fn name_taken(tx: &Tx<'_>, name: &str, except: Option<Uuid>) -> bool {
    tx.records::<GroupType>()
        .iter()
        .any(|g| g.name == name && Some(g.id) != except)
}

pub fn create(
    tx: &mut Tx<'_>,
    name: String,
    description: Option<String>,
    is_public: bool,
    group_specs: BTreeMap<String, String>,
) -> Result<GroupType, ApiError> {
    if name_taken(tx, &name, None) {
        return Err(ApiError::Conflict(format!(
            "Group Type {name} already exists."
        )));
    }
    let g = GroupType {
        id: Uuid::new_v4(),
        name,
        description,
        is_public,
        group_specs,
    };
    tx.put_record(&g);
    Ok(g)
}

/// Name, description (Some(None) clears it) and visibility; None leaves a field alone.
pub fn update(
    tx: &mut Tx<'_>,
    raw: &str,
    name: Option<String>,
    description: Option<Option<String>>,
    is_public: Option<bool>,
) -> Result<GroupType, ApiError> {
    let mut g = get(tx, raw)?;
    if let Some(n) = name {
        if name_taken(tx, &n, Some(g.id)) {
            return Err(ApiError::Conflict(format!(
                "Group Type {n} already exists."
            )));
        }
        g.name = n;
    }
    if let Some(d) = description {
        g.description = d;
    }
    if let Some(p) = is_public {
        g.is_public = p;
    }
    tx.put_record(&g);
    Ok(g)
}

pub fn delete(tx: &mut Tx<'_>, raw: &str) -> Result<(), ApiError> {
    let g = get(tx, raw)?;
    tx.remove_record::<GroupType>(&g.key());
    Ok(())
}

pub fn set_specs(
    tx: &mut Tx<'_>,
    raw: &str,
    specs: BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let mut g = get(tx, raw)?;
    g.group_specs.extend(specs);
    tx.put_record(&g);
    Ok(())
}

pub fn spec_not_found(id: &str, key: &str) -> ApiError {
    ApiError::not_found(format!("Group Type {id} has no specs with key {key}."))
}

pub fn delete_spec(tx: &mut Tx<'_>, raw: &str, key: &str) -> Result<(), ApiError> {
    let mut g = get(tx, raw)?;
    if g.group_specs.remove(key).is_none() {
        return Err(spec_not_found(raw, key));
    }
    tx.put_record(&g);
    Ok(())
}
