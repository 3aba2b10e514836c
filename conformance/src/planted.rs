//! Planted Cinder bugs: fault rules that make the emulator misbehave the way a broken
//! backend would, each with the model invariant that must catch it when the store under
//! test trusts Cinder (our driver with its read-back checks off, or upstream glance_store).
//! `tests/state_machine.rs` and `tests/python_driver.rs` run them; `docs/conformance.md`
//! has the table.

use serde_json::{json, Value};

use crate::invariant::Invariant;
use crate::profile::DriverProfile;

/// One planted bug.
#[derive(Clone, Debug)]
pub struct Planted {
    pub name: &'static str,
    /// A fault rule as the control API takes it (the fields of a scenario `[[rule]]`).
    pub rule: Value,
    /// What it simulates, in a line.
    pub what: &'static str,
    /// The invariant that catches it against a trusting driver.
    caught_by: Invariant,
    /// Per driver (`DriverProfile::name`), where it differs: another invariant, or `None`
    /// when even the trusting form of that driver notices the bug itself (so a run against
    /// it would not show what the model catches).
    except: &'static [(&'static str, Option<Invariant>)],
}

impl Planted {
    /// The invariant that catches this bug against a trusting driver with `profile`;
    /// `None` when that driver checks this itself even with its read-back checks off.
    pub fn caught_by(&self, profile: &DriverProfile) -> Option<Invariant> {
        self.except
            .iter()
            .find(|(name, _)| *name == profile.name)
            .map_or(Some(self.caught_by), |(_, inv)| *inv)
    }
}

/// The catalogue, in the order of the table in `docs/conformance.md`.
pub fn catalogue() -> Vec<Planted> {
    vec![
        Planted {
            name: "bit rot",
            rule: json!({"id": "planted-bit-rot", "effect": {"bit_rot": 8, "seed": 7}}),
            what: "bytes at rest change between upload and download",
            caught_by: Invariant::ReadBytes,
            except: &[],
        },
        Planted {
            name: "wrong volume type",
            rule: json!({"id": "planted-wrong-type", "operation": "volume.create",
                         "effect": {"lie": "volume_type", "volume_type": "glance-new"}}),
            what: "Cinder creates the volume with another type than asked",
            caught_by: Invariant::VolumeType,
            except: &[],
        },
        Planted {
            name: "lost metadata write",
            rule: json!({"id": "planted-lost-metadata",
                         "operation": ["volume.metadata.create", "volume.metadata.replace",
                                       "volume.metadata.update_key"],
                         "effect": {"lie": "ack"}}),
            what: "metadata writes are acknowledged, not applied",
            caught_by: Invariant::ImageSize,
            except: &[],
        },
        Planted {
            name: "silent delete",
            rule: json!({"id": "planted-silent-delete", "operation": "volume.delete",
                         "effect": {"lie": "ack"}}),
            what: "deletes are acknowledged (202), not applied",
            caught_by: Invariant::DeletedIsGone,
            // drivers whose delete returns at once are polled by the runner until the bound
            except: &[
                ("python-glance-store", Some(Invariant::DeleteSettles)),
                ("rust-trusting", Some(Invariant::DeleteSettles)),
            ],
        },
        Planted {
            name: "attachment left by a detach",
            // only on volumes a driver uploaded (they carry `image_owner`): the harness's
            // own detach after filling a legacy volume would otherwise stick too and wait
            // out its 120 s bound
            rule: json!({"id": "planted-sticky-attachment", "operation": "attachment.delete",
                         "volume_metadata": {"image_owner": "*"}, "effect": {"lie": "ack"}}),
            what: "attachment deletes are acknowledged, not applied: the volume stays attached",
            // Cinder itself refuses the driver's next call on the still-attached volume
            // (`os-update_readonly_flag` "status must be available … in-use", upstream's
            // and our trusting driver's, which skips its wait for `available` after a
            // detach), so the upload fails and the model sees an unexpected error.
            caught_by: Invariant::Outcome,
            except: &[],
        },
    ]
}
