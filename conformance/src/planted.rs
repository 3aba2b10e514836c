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
    /// The fault rules, as the control API takes them (the fields of a scenario `[[rule]]`):
    /// most bugs are one rule.
    pub rules: Vec<Value>,
    /// What it simulates, in a line.
    pub what: &'static str,
    /// The invariant that catches it against a trusting driver.
    caught_by: Invariant,
    /// Per driver (`DriverProfile::name`), where it differs: another invariant, or `None`
    /// when even the trusting form of that driver notices the bug itself (so a run against
    /// it would not show what the model catches), or when that driver has the same bug
    /// itself.
    except: &'static [(&'static str, Option<Invariant>)],
    /// Triggered only by an unknown-size upload crossing a GiB (the driver extends the
    /// volume): too slow for the random search under `cargo test`, so run there as the
    /// fixed sequence (an upload of [`Planted::LARGE_LEN`] bytes, then a read of its head) instead.
    pub large: bool,
}

impl Planted {
    /// The image of a `large` bug's fixed sequence: 1 GiB + 4 KiB, uploaded without its
    /// size, then its first 4 KiB read back.
    pub const LARGE_LEN: u64 = crate::model::GIB + 4096;

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
            rules: vec![json!({"id": "planted-bit-rot", "effect": {"bit_rot": 8, "seed": 7}})],
            what: "bytes at rest change between upload and download",
            caught_by: Invariant::ReadBytes,
            except: &[],
            large: false,
        },
        Planted {
            name: "wrong volume type",
            rules: vec![
                json!({"id": "planted-wrong-type", "operation": "volume.create",
                         "effect": {"lie": "volume_type", "volume_type": "glance-new"}}),
            ],
            what: "Cinder creates the volume with another type than asked",
            caught_by: Invariant::VolumeType,
            except: &[],
            large: false,
        },
        Planted {
            name: "lost metadata write",
            rules: vec![json!({"id": "planted-lost-metadata",
                         "operation": ["volume.metadata.create", "volume.metadata.replace",
                                       "volume.metadata.update_key"],
                         "effect": {"lie": "ack"}})],
            what: "metadata writes are acknowledged, not applied",
            caught_by: Invariant::ImageSize,
            except: &[],
            large: false,
        },
        Planted {
            name: "silent delete",
            rules: vec![
                json!({"id": "planted-silent-delete", "operation": "volume.delete",
                         "effect": {"lie": "ack"}}),
            ],
            what: "deletes are acknowledged (202), not applied",
            caught_by: Invariant::DeletedIsGone,
            // drivers whose delete returns at once are polled by the runner until the bound
            except: &[
                ("python-glance-store", Some(Invariant::DeleteSettles)),
                ("rust-trusting", Some(Invariant::DeleteSettles)),
            ],
            large: false,
        },
        Planted {
            name: "attachment left by a detach",
            // only on volumes a driver uploaded (they carry `image_owner`): the harness's
            // own detach after filling a legacy volume would otherwise stick too and wait
            // out its 120 s bound
            rules: vec![
                json!({"id": "planted-sticky-attachment", "operation": "attachment.delete",
                         "volume_metadata": {"image_owner": "*"}, "effect": {"lie": "ack"}}),
            ],
            what: "attachment deletes are acknowledged, not applied: the volume stays attached",
            // Cinder itself refuses the driver's next call on the still-attached volume
            // (`os-update_readonly_flag` "status must be available … in-use", upstream's
            // and our trusting driver's, which skips its wait for `available` after a
            // detach), so the upload fails and the model sees an unexpected error.
            caught_by: Invariant::Outcome,
            except: &[],
            large: false,
        },
        Planted {
            name: "truncation on extend",
            rules: vec![json!({"id": "planted-truncate-on-extend",
                         "operation": "volume.action.os-extend",
                         "effect": {"truncate": true}})],
            what: "an extend grows the volume but discards the bytes it held",
            // the upload's answer reports the bytes sent; only reading back shows the
            // first GiB is zeros
            caught_by: Invariant::ReadBytes,
            // upstream truncates an unknown-size upload on offline extend by itself (pinned
            // in `tests/python_driver.rs`): a run would show its bug, not the planted one
            except: &[("python-glance-store", None)],
            large: true,
        },
        Planted {
            name: "ready while still creating",
            // the create never finishes (cinder-volume lost it), yet every show of the
            // volume answers `available`; only on volumes a driver uploads (they carry
            // `image_owner`), so the harness's legacy volumes are made as usual, and the
            // inspector's listings are never lied to
            rules: vec![
                json!({"id": "planted-stuck-create", "operation": "volume.create",
                       "volume_metadata": {"image_owner": "*"},
                       "effect": {"transition": "stay"}}),
                json!({"id": "planted-status-lie", "operation": "volume.show",
                       "volume_metadata": {"image_owner": "*"},
                       "effect": {"lie": "status", "status": "available"}}),
            ],
            what: "Cinder reports a volume available while its create never finished",
            // Cinder's own checks still see `creating`: the reservation is refused ("status
            // must be available or downloading to reserve, but the current status is
            // creating"), so the upload a trusting driver believed ready fails, and the
            // model expected it to succeed
            caught_by: Invariant::Outcome,
            except: &[],
            large: false,
        },
    ]
}
