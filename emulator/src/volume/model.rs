//! Domain records: volumes, volume types, attachments. Plain data, stored as JSON
//! documents by `store` and turned into wire shapes by `cinder::views`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::status::{AttachStatus, VolumeStatus};

/// Seconds-since-epoch with microseconds, as stored; rendered by the views.
pub type Timestamp = OffsetDateTime;

pub fn now() -> Timestamp {
    OffsetDateTime::now_utc()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    pub id: Uuid,
    /// Creation order, for Cinder's default `created_at desc` sort and stable markers.
    pub seq: u64,
    pub project_id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub size_gb: u64,
    #[serde(with = "status_serde")]
    pub status: VolumeStatus,
    pub volume_type_id: Uuid,
    pub availability_zone: String,
    pub bootable: bool,
    pub multiattach: bool,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    /// Cinder's admin metadata (`readonly`, `attached_mode`), shown merged into
    /// `metadata` as Cinder does.
    pub admin_metadata: BTreeMap<String, String>,
    pub migration_status: Option<String>,
    /// `host@backend#pool` chosen by the scheduler; None when no backend qualified.
    #[serde(default)]
    pub host: Option<String>,
    /// The generic volume group it belongs to.
    #[serde(default)]
    pub group_id: Option<Uuid>,
    /// The snapshot it was created from (`snapshot_id`).
    #[serde(default)]
    pub snapshot_id: Option<Uuid>,
    /// The volume it was cloned from (`source_volid`).
    #[serde(default)]
    pub source_volid: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeType {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub is_public: bool,
    pub extra_specs: BTreeMap<String, String>,
    /// Projects a private type is shared with.
    pub access: BTreeSet<String>,
    /// The QoS specs associated with this type.
    #[serde(default)]
    pub qos_specs_id: Option<Uuid>,
}

impl VolumeType {
    pub fn multiattach(&self) -> bool {
        self.extra_specs
            .get("multiattach")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("<is> true"))
    }

    pub fn visible_to(&self, project_id: &str, is_admin: bool) -> bool {
        is_admin || self.is_public || self.access.contains(project_id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: Uuid,
    pub volume_id: Uuid,
    pub project_id: String,
    pub instance_uuid: Option<Uuid>,
    /// `attach_status` of this one attachment (never `detached`: deleted ones are gone).
    #[serde(with = "attach_serde")]
    pub status: AttachStatus,
    /// `rw`, `ro`, or None when created below 3.54 without a mode.
    pub attach_mode: Option<String>,
    pub connector: Option<serde_json::Value>,
    pub host_name: Option<String>,
    pub mountpoint: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub attached_at: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

mod status_serde {
    use super::VolumeStatus;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(s: &VolumeStatus, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.as_str())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<VolumeStatus, D::Error> {
        let s = String::deserialize(de)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

mod attach_serde {
    use super::AttachStatus;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(s: &AttachStatus, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.as_str())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<AttachStatus, D::Error> {
        let s = String::deserialize(de)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
