//! A group made from a source group (`create-from-src`, 3.14): the new group takes the
//! source's group type, volume types and zone, and each of the source's volumes is
//! cloned into it (`source_volid`), so the new volumes hold the source volumes' bytes.

use uuid::Uuid;

use super::groups::{self, Group};
use super::model::now;
use super::ops::{self, Caller, CreateVolume, VolumeSource};
use super::store::Tx;
use crate::config::World;
use crate::error::ApiError;

/// Creates the group and its clones (in `creating`); returns the group and the new
/// volumes' ids, whose create jobs copy the bytes.
pub fn create_from_group(
    tx: &mut Tx<'_>,
    world: &World,
    caller: &Caller,
    raw_source: &str,
    name: Option<String>,
    description: Option<String>,
) -> Result<(Group, Vec<Uuid>), ApiError> {
    let source = groups::get(tx, caller, raw_source)?;
    let members = groups::members(tx, source.id);
    if members.is_empty() {
        return Err(ApiError::bad_request(
            "Invalid group: Source Group is empty. No group will be created.",
        ));
    }
    if source.status != "available" {
        return Err(ApiError::bad_request(format!(
            "Invalid group: Source group {} status must be available, but current status is: {}.",
            source.id, source.status
        )));
    }
    let g = Group {
        id: Uuid::new_v4(),
        project_id: caller.project_id.clone(),
        user_id: caller.user_id.clone(),
        name,
        description,
        created_at: now(),
        status: "available".into(),
        ..source
    };
    tx.put_record(&g);
    let mut clones = Vec::new();
    for vid in members {
        let Some(src) = tx.volume(vid).cloned() else {
            continue;
        };
        let v = ops::create(
            tx,
            world,
            caller,
            CreateVolume {
                size_gb: None,
                name: src.name.clone(),
                description: src.description.clone(),
                volume_type: None,
                metadata: Default::default(),
                availability_zone: Some(src.availability_zone.clone()),
                bootable: false,
                group_id: Some(g.id.to_string()),
                source: Some(VolumeSource::Volume(src.id.to_string())),
            },
        )?;
        clones.push(v.id);
    }
    Ok((g, clones))
}
