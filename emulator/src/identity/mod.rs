//! The identity domain behind Keystone's admin API: the [`directory`] (the world file's
//! identities and the API's, as one view), the admin writes (`admin`, `grants`) and
//! application credentials (`app_creds`), each a function over a store `Tx`. Records
//! live in the store's `records` table (`model`), so they are as durable as volumes.

pub mod admin;
pub mod app_creds;
pub mod directory;
pub mod grants;
pub mod model;

use crate::error::ApiError;

/// Keystone's `Could not find <kind>: <id>.`
pub fn not_found(kind: &str, id: &str) -> ApiError {
    ApiError::not_found(format!("Could not find {kind}: {id}."))
}

/// Keystone's `Conflict occurred attempting to store <type> - <details>.`
pub fn conflict(kind: &str, details: &str) -> ApiError {
    ApiError::Conflict(format!(
        "Conflict occurred attempting to store {kind} - {details}."
    ))
}

/// The world file's identities (and bootstrap's roles) cannot be changed by the API.
pub fn read_only(kind: &str, name: &str) -> ApiError {
    ApiError::Forbidden(format!(
        "The {kind} {name} is defined by the world file and is read-only."
    ))
}
