//! The concurrent-workers mode against our driver (in process): four workers on one
//! emulator and two shared images, a short budget that must pass. What the interleaving
//! check accepts and refuses is unit-tested in `src/concurrent/tests.rs`; that it fails
//! against glance_store 5.4.1 is shown in docs/conformance.md.

use cinderbox_conformance::concurrent::{self, Driver, Options};
use cinderbox_conformance::profile::DriverProfile;

#[test]
fn four_workers_on_shared_images_pass_against_our_driver() {
    let options = Options {
        workers: 4,
        ops_per_worker: 3,
        shared_images: 2,
        cases: 4,
        seed: 0xc0c4,
        max_shrink_iters: 8,
    };
    let results = concurrent::run(&Driver::Rust, DriverProfile::RUST, &options, &|_| {})
        .expect("the cases run");
    assert_eq!(results.len(), 4);
    for r in &results {
        assert_eq!(r.failure, None, "seed {:#x}: {:?}", r.seed, r.plan);
        assert_eq!(r.plan.len(), 4);
        assert!(r.plan.iter().all(|ops| ops.len() == 3));
    }
}
