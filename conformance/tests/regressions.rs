//! Named regressions, as sled keeps them: each shrunk failure the suite has found is
//! replayed here as a fixed sequence, with a one-line postmortem, and must still fail on
//! the invariant that caught it (and pass once the planted fault is gone, so the
//! sequence itself is sound). Upstream glance_store's are in `tests/python_driver.rs`.

use std::time::Duration;

use cinderbox_conformance::invariant::Invariant;
use cinderbox_conformance::machine::Op;
use cinderbox_conformance::model::Content;
use cinderbox_conformance::planted::catalogue;
use cinderbox_conformance::profile::DriverProfile;
use cinderbox_conformance::runner::replay_ops;
use cinderbox_conformance::session::{EmulatorOptions, Session, Shape, Where};
use cinderbox_conformance::target::{DriverTarget, Target};
use serde_json::Value;

/// A driver under test: how to make one, and its profile.
type Driver = (fn() -> Box<dyn Target + Send>, DriverProfile);
const OURS: Driver = (ours, DriverProfile::RUST);
const TRUSTING: Driver = (trusting, DriverProfile::RUST_TRUSTING);

fn session(rules: Vec<Value>, (target, profile): Driver) -> Session {
    let place = Where::Emulator(EmulatorOptions {
        scenario: None,
        rules,
        state_timeout_s: 2,
        delay: Duration::ZERO,
        nfs: false,
    });
    let shape = Shape {
        max_image_bytes: 16 << 10,
        large: false,
    };
    Session::with_profile(place, shape, Box::new(target), profile)
        .expect("session on the embedded emulator")
}

fn trusting() -> Box<dyn Target + Send> {
    Box::new(DriverTarget::trusting_cinder())
}

fn ours() -> Box<dyn Target + Send> {
    Box::new(DriverTarget::new())
}

fn planted_rules(name: &str) -> Vec<Value> {
    catalogue()
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no planted bug {name:?}"))
        .rules
}

/// Replays `ops` with the planted bug `bug` against `target`: it must break `invariant`;
/// and without the bug the same sequence must pass.
fn regression(bug: &str, target: Driver, ops: Vec<Op>, invariant: Invariant) {
    let (got, _session) = replay_ops(session(planted_rules(bug), target), ops.clone());
    let violation = got.expect_err("the regression fails again");
    assert_eq!(
        violation.invariant, invariant,
        "{bug}: caught by another invariant: {violation}"
    );
    let (clean, _session) = replay_ops(session(Vec::new(), target), ops);
    assert_eq!(
        clean,
        Ok(()),
        "{bug}: the sequence fails even without the bug"
    );
}

fn upload(key: u32, len: u64, declared: bool) -> Op {
    Op::Upload {
        key,
        store: None,
        content: Content { seed: 0x5eed, len },
        declared,
    }
}

/// Postmortem: Cinder created the volume with another type; a driver that does not read
/// the type back files the image under the wrong store, and only the listing shows it.
#[test]
fn wrong_volume_type_on_create_is_a_volume_type_violation() {
    regression(
        "wrong volume type",
        TRUSTING,
        vec![upload(0, 1, true)],
        Invariant::VolumeType,
    );
}

/// Postmortem: an unknown-size upload writes `image_size` after the data; Cinder
/// acknowledged the write and kept "0", so Glance would report a 0-byte image.
#[test]
fn lost_image_size_write_is_an_image_size_violation() {
    regression(
        "lost metadata write",
        TRUSTING,
        vec![upload(0, 1, false)],
        Invariant::ImageSize,
    );
}

/// Postmortem: bytes rotted at rest were served as the image; only comparing what is read
/// with what was written (the final read-back) catches it, at the first rotten offset.
#[test]
fn bit_rot_at_rest_is_a_read_bytes_violation() {
    regression(
        "bit rot",
        TRUSTING,
        vec![upload(0, 4096, true)],
        Invariant::ReadBytes,
    );
}

/// Postmortem: Cinder answered 202 to the delete and kept the volume; a driver that does
/// not wait for it to go reports success, and the image's bytes live on (a leak): the
/// volume is still there when the settle bound runs out.
#[test]
fn silently_kept_volume_after_delete_is_a_delete_settles_violation() {
    regression(
        "silent delete",
        TRUSTING,
        vec![upload(0, 1, true), Op::Delete { key: 0 }],
        Invariant::DeleteSettles,
    );
}

/// Postmortem: the same silent delete against our driver with its checks on: it waits
/// for the volume to go and refuses to report success, so the model sees the refusal.
#[test]
fn our_driver_refuses_a_silent_delete() {
    regression(
        "silent delete",
        OURS,
        vec![upload(0, 1, true), Op::Delete { key: 0 }],
        Invariant::Outcome,
    );
}

/// Postmortem: Cinder acknowledged the detach and kept the attachment; a driver that takes
/// the ack as done goes on with the volume still `in-use`, and Cinder refuses its
/// `os-update_readonly_flag`, so the upload fails where the model expects success.
#[test]
fn attachment_left_by_a_detach_fails_the_upload_on_outcome() {
    regression(
        "attachment left by a detach",
        TRUSTING,
        vec![upload(0, 16, true)],
        Invariant::Outcome,
    );
}

/// Postmortem: Cinder answered `available` to every show of a volume whose create never
/// finished; a driver that believes the show asks to attach a `creating` volume, Cinder
/// refuses the reservation, and the upload fails where the model expects success.
#[test]
fn ready_while_still_creating_fails_the_upload_on_outcome() {
    regression(
        "ready while still creating",
        TRUSTING,
        vec![upload(0, 16, true)],
        Invariant::Outcome,
    );
}
