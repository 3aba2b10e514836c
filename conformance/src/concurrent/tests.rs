//! The interleaving check on recorded calls, without a driver: what it accepts and what
//! it refuses.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::*;
use crate::model::{Capabilities, StoreModel};

fn model_with_image(profile: DriverProfile) -> Model {
    let m = Model {
        stores: vec![StoreModel {
            name: "fast".into(),
            volume_type: "glance-fast".into(),
            enabled: true,
        }],
        default_store: "fast".into(),
        default_type: "__DEFAULT__".into(),
        legacy_types: vec![None],
        images: BTreeMap::new(),
        next_key: 0,
        caps: Capabilities {
            faults: false,
            restart: false,
            legacy_bytes: true,
            max_image_bytes: 1 << 20,
            large: false,
        },
    };
    upload(m, profile, 0, shared_content(0))
}

/// A call of `worker` from `from` to `to` ms.
fn rec(worker: usize, op: WorkerOp, from: u64, to: u64, got: Result<Got, ErrorClass>) -> Record {
    let t0 = Instant::now();
    Record {
        worker,
        op,
        start: t0 + Duration::from_millis(from),
        end: t0 + Duration::from_millis(to),
        got,
    }
}

fn bytes() -> Result<Got, ErrorClass> {
    let c = shared_content(0);
    Ok(Got::Bytes {
        len: c.len,
        md5: c.digests().0,
    })
}

#[test]
fn real_time_order_is_kept_and_overlaps_may_go_either_way() {
    let p = DriverProfile::RUST;
    let m = model_with_image(p);
    // the read ended before the delete began: it saw the image
    let serial = [
        rec(0, WorkerOp::Download(0), 0, 10, bytes()),
        rec(1, WorkerOp::Delete(0), 20, 30, Ok(Got::Done)),
    ];
    assert_eq!(explain(&m, p, &serial), Ok(()));
    // the read began after the delete ended: it must not see the image
    let late = [
        rec(1, WorkerOp::Delete(0), 0, 10, Ok(Got::Done)),
        rec(0, WorkerOp::Download(0), 20, 30, bytes()),
    ];
    assert!(explain(&m, p, &late).is_err());
    // overlapping: the read may come first
    let overlap = [
        rec(1, WorkerOp::Delete(0), 0, 30, Ok(Got::Done)),
        rec(0, WorkerOp::Download(0), 10, 20, bytes()),
    ];
    assert_eq!(explain(&m, p, &overlap), Ok(()));
    // wrong bytes fit no order
    let rotten = [rec(
        0,
        WorkerOp::Download(0),
        0,
        10,
        Ok(Got::Bytes {
            len: shared_content(0).len,
            md5: "0".repeat(32),
        }),
    )];
    assert!(explain(&m, p, &rotten).is_err());
}

#[test]
fn only_cinders_refusals_of_overlapping_calls_are_accepted() {
    let p = DriverProfile::RUST;
    let m = model_with_image(p);
    // a delete refused while another worker reads the image (attached): image kept
    let refused = [
        rec(0, WorkerOp::Download(0), 0, 30, bytes()),
        rec(1, WorkerOp::Delete(0), 10, 20, Err(ErrorClass::Backend)),
        rec(
            1,
            WorkerOp::GetSize(0),
            40,
            50,
            Ok(Got::Size(shared_content(0).len)),
        ),
    ];
    assert_eq!(explain(&m, p, &refused), Ok(()));
    // the same refusal after the read ended: the detaching-then-delete failure
    let after = [
        rec(0, WorkerOp::Download(0), 0, 10, bytes()),
        rec(1, WorkerOp::Delete(0), 20, 30, Err(ErrorClass::Backend)),
    ];
    assert!(explain(&m, p, &after).is_err());
    // a read failing on its own, with nothing overlapping
    let alone = [rec(
        0,
        WorkerOp::Download(0),
        0,
        10,
        Err(ErrorClass::Backend),
    )];
    assert!(explain(&m, p, &alone).is_err());
    // a size after a finished delete: only drivers whose delete returns early
    let after_delete = [
        rec(1, WorkerOp::Delete(0), 0, 10, Ok(Got::Done)),
        rec(
            0,
            WorkerOp::GetSize(0),
            20,
            30,
            Ok(Got::Size(shared_content(0).len)),
        ),
    ];
    assert!(explain(&m, p, &after_delete).is_err());
    let upstream = DriverProfile::PYTHON_GLANCE_STORE;
    assert_eq!(
        explain(&model_with_image(upstream), upstream, &after_delete),
        Ok(())
    );
}

#[test]
fn plans_are_reproducible_and_uploads_get_fresh_keys() {
    let o = Options {
        workers: 4,
        ops_per_worker: 5,
        shared_images: 2,
        cases: 1,
        seed: 9,
        max_shrink_iters: 0,
    };
    assert_eq!(plan(9, &o), plan(9, &o));
    assert_ne!(plan(9, &o), plan(10, &o));
    let p = plan(9, &o);
    assert_eq!(p.len(), 4);
    let mut uploads: Vec<ImageKey> = p
        .iter()
        .flatten()
        .filter_map(|op| match op {
            WorkerOp::Upload(k, _) => Some(*k),
            _ => None,
        })
        .collect();
    let n = uploads.len();
    uploads.sort_unstable();
    uploads.dedup();
    assert_eq!(uploads.len(), n, "no two uploads share a key");
    assert!(uploads.iter().all(|k| *k >= 2), "shared keys are 0 and 1");
}
