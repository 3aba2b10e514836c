//! User messages (3.3): what Cinder records for a project when an asynchronous
//! operation fails, with Cinder's event ids and texts; kept for `message_ttl`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{now, Timestamp};
use super::store::{Record, Tx};
use crate::error::ApiError;

/// Cinder's `message_ttl` default: 30 days.
const TTL: time::Duration = time::Duration::days(30);

/// The events the emulator records, as Cinder's (action, detail) pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The scheduler found no backend whose capabilities pass the volume's type.
    NoValidBackend,
    /// The backend failed to create the volume.
    CreateFailed,
    /// The backend failed to extend the volume.
    ExtendFailed,
    /// The backup driver failed to back the volume up.
    BackupCreateFailed,
    /// The backup driver failed to restore a backup onto the volume.
    BackupRestoreFailed,
}

impl Event {
    /// (action id, action text, detail id, detail text) from `message_field.py`.
    fn fields(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Event::NoValidBackend => (
                "001",
                "schedule allocate volume",
                "003",
                "Could not find any available weighted backend.",
            ),
            Event::CreateFailed => (
                "001",
                "schedule allocate volume",
                "012",
                "Driver failed to create the volume.",
            ),
            Event::ExtendFailed => (
                "007",
                "extend volume",
                "010",
                "Volume Driver failed to extend volume.",
            ),
            Event::BackupCreateFailed => (
                "013",
                "create backup",
                "020",
                "Backup driver failed to create backup.",
            ),
            Event::BackupRestoreFailed => (
                "015",
                "restore backup",
                "026",
                "Backup driver failed to restore backup.",
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserMessage {
    pub id: Uuid,
    pub project_id: String,
    pub event_id: String,
    pub user_message: String,
    pub message_level: String,
    pub resource_type: String,
    pub resource_uuid: Option<String>,
    pub request_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: Timestamp,
}

impl Record for UserMessage {
    const KIND: &'static str = "message";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

/// Records an error message about a volume for its project.
pub fn record(tx: &mut Tx<'_>, project_id: &str, volume_id: Uuid, event: Event) {
    let (action, action_text, detail, detail_text) = event.fields();
    let created = now();
    tx.put_record(&UserMessage {
        id: Uuid::new_v4(),
        project_id: project_id.to_string(),
        event_id: format!("VOLUME_VOLUME_{action}_{detail}"),
        user_message: format!("{action_text}: {detail_text}"),
        message_level: "ERROR".into(),
        resource_type: "VOLUME".into(),
        resource_uuid: Some(volume_id.to_string()),
        request_id: format!("req-{}", Uuid::new_v4()),
        created_at: created,
        expires_at: created + TTL,
    });
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Message {id} could not be found."))
}

/// The live (unexpired) messages a caller may see: its project's, or all for admins.
pub fn visible(tx: &Tx<'_>, project_id: &str, is_admin: bool) -> Vec<UserMessage> {
    let now = now();
    let mut out: Vec<UserMessage> = tx
        .records::<UserMessage>()
        .into_iter()
        .filter(|m| m.expires_at > now)
        .filter(|m| is_admin || m.project_id == project_id)
        .collect();
    out.sort_by_key(|m| std::cmp::Reverse(m.created_at));
    out
}

pub fn get(
    tx: &Tx<'_>,
    project_id: &str,
    is_admin: bool,
    raw: &str,
) -> Result<UserMessage, ApiError> {
    let id = Uuid::parse_str(raw).map_err(|_| not_found(raw))?;
    visible(tx, project_id, is_admin)
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| not_found(raw))
}

pub fn delete(
    tx: &mut Tx<'_>,
    project_id: &str,
    is_admin: bool,
    raw: &str,
) -> Result<(), ApiError> {
    let m = get(tx, project_id, is_admin, raw)?;
    tx.remove_record::<UserMessage>(&m.key());
    Ok(())
}
