//! The invariants checked through Cinder's API (the inspector, as admin) after every step
//! of a case: volumes exist, are at rest, carry their store's type and `image_size`;
//! deleted ones are gone; nothing leaked; disabled stores untouched.

use std::collections::{HashMap, HashSet};

use crate::invariant::Invariant;
use crate::model::Model;
use crate::sut::{harness, Case};

/// Fails the case, naming the invariant that fired.
macro_rules! fail {
    ($inv:ident, $($arg:tt)*) => { $crate::violate!(Invariant::$inv, $($arg)*) };
}

impl Case {
    /// The invariants, checked through the inspector after every step.
    pub(crate) fn invariants(&self, model: &Model) {
        let session = self.session.as_ref().expect("the case holds the session");
        let volumes = harness("listing volumes", session.inspector.volumes());
        let attachments = harness("listing attachments", session.inspector.attachments());
        let by_id: HashMap<&str, _> = volumes.iter().map(|v| (v.id.as_str(), v)).collect();
        let mut known: HashSet<&str> = HashSet::new();
        for (key, image) in &model.images {
            let Some(h) = self.handles.get(key) else {
                fail!(Harness, "harness: image {key} has no location");
            };
            let volume = by_id.get(h.volume_id.as_str());
            if image.deleted {
                if volume.is_some() {
                    fail!(
                        DeletedIsGone,
                        "image {key}: its volume {} still exists after a successful delete",
                        h.volume_id
                    );
                }
                continue;
            }
            known.insert(h.volume_id.as_str());
            let Some(v) = volume else {
                fail!(
                    VolumeExists,
                    "image {key}: its volume {} is gone",
                    h.volume_id
                );
            };
            let want_type = model.effective_type(image.volume_type.as_deref());
            if v.volume_type.as_deref() != Some(want_type) {
                fail!(
                    VolumeType,
                    "image {key}: volume {} has type {:?}, its store's type is '{want_type}'",
                    v.id,
                    v.volume_type
                );
            }
            if v.status != "available" || v.attachments != 0 {
                fail!(
                    AtRest,
                    "image {key}: volume {} is '{}' with {} attachment(s) between operations",
                    v.id,
                    v.status,
                    v.attachments
                );
            }
            let want_size = image.content.len.to_string();
            if !image.legacy && v.metadata.get("image_size") != Some(&want_size) {
                fail!(
                    ImageSize,
                    "image {key}: volume {} records image_size {:?}, expected {want_size}",
                    v.id,
                    v.metadata.get("image_size")
                );
            }
        }
        let disabled: Vec<&str> = model
            .stores
            .iter()
            .filter(|s| !s.enabled)
            .map(|s| s.volume_type.as_str())
            .collect();
        for v in volumes.iter().filter(|v| session.in_scope(&v.id, &v.name)) {
            if v.volume_type
                .as_deref()
                .is_some_and(|t| disabled.contains(&t))
            {
                fail!(
                    DisabledUntouched,
                    "disabled store gained volume {} of type {:?}",
                    v.id,
                    v.volume_type
                );
            }
            if !known.contains(v.id.as_str()) {
                fail!(
                    NoVolumeLeak,
                    "leak: volume {} ('{}', {}) is not an image the model knows",
                    v.id,
                    v.name,
                    v.status
                );
            }
        }
        for a in attachments.iter().flatten() {
            if session.in_scope(&a.volume_id, "") || known.contains(a.volume_id.as_str()) {
                fail!(
                    NoAttachmentLeak,
                    "leak: attachment {} of volume {} ({}) left behind",
                    a.id,
                    a.volume_id,
                    a.status
                );
            }
        }
    }
}
