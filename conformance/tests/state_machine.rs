//! The property-based suite against the embedded emulator: a small clean budget that must
//! pass, and planted Cinder bugs (`cinderbox_conformance::planted`) that the model's own
//! invariants must catch and shrink, against our driver with its read-back checks off.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cinderbox_conformance::invariant::Invariant;
use cinderbox_conformance::machine::Op;
use cinderbox_conformance::model::Content;
use cinderbox_conformance::planted::{catalogue, Planted};
use cinderbox_conformance::profile::DriverProfile;
use cinderbox_conformance::runner::{self, load_regressions, replay_ops, Report, RunOptions};
use cinderbox_conformance::session::{EmulatorOptions, Session, Shape, Where};
use cinderbox_conformance::target::{DriverTarget, Target};
use serde_json::{json, Value};

const JOBS: usize = 4;
/// Longest planted-bug sequence: short sequences shrink fast.
const STEPS: usize = 8;

type MakeTarget = fn() -> Box<dyn Target + Send>;

fn ours() -> Box<dyn Target + Send> {
    Box::new(DriverTarget::new())
}

fn trusting() -> Box<dyn Target + Send> {
    Box::new(DriverTarget::trusting_cinder())
}

fn sessions(
    rules: Vec<Value>,
    target: MakeTarget,
    profile: DriverProfile,
    nfs: bool,
) -> Vec<Session> {
    sessions_n(JOBS, rules, target, profile, nfs)
}

/// `jobs` sessions, each on its own embedded emulator.
fn sessions_n(
    jobs: usize,
    rules: Vec<Value>,
    target: MakeTarget,
    profile: DriverProfile,
    nfs: bool,
) -> Vec<Session> {
    let place = Where::Emulator(EmulatorOptions {
        scenario: None,
        rules,
        state_timeout_s: 2,
        delay: Duration::ZERO,
        nfs,
    });
    // Tiny images: single chunk, a few KiB at most. Over NFS, up to 2 MiB: the driver
    // reads 1 MiB READs ahead (from a 1 GiB volume), and rot in transit lands anywhere in
    // a READ's reply, so an image must fill a good part of one to be hit.
    let shape = Shape {
        max_image_bytes: if nfs { 2 << 20 } else { 16 << 10 },
        large: false,
    };
    (0..jobs)
        .map(|_| {
            Session::with_profile(place.clone(), shape.clone(), Box::new(target), profile)
                .expect("session on the embedded emulator")
        })
        .collect()
}

fn options(cases: u32, seed: u64, max_steps: usize, regressions: Option<PathBuf>) -> RunOptions {
    RunOptions {
        cases,
        seed,
        max_steps,
        regressions,
        max_shrink_iters: 32,
        max_shrink_time: Duration::from_secs(20),
        replay_prefix: "cargo run -p cinderbox-conformance --".into(),
    }
}

/// A driver under test: how to make one, and its profile.
type Driver = (MakeTarget, DriverProfile);
const OURS: Driver = (ours, DriverProfile::RUST);
const TRUSTING: Driver = (trusting, DriverProfile::RUST_TRUSTING);

fn run_with(rules: Vec<Value>, opts: &RunOptions, driver: Driver) -> Report {
    run_on(rules, opts, driver, false)
}

/// As `run_with`, with every volume type on the emulator's NFS backend when `nfs`.
fn run_on(rules: Vec<Value>, opts: &RunOptions, (target, profile): Driver, nfs: bool) -> Report {
    let (report, _sessions) = runner::run(sessions(rules, target, profile, nfs), opts, &|_| {});
    report
}

fn committed_regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("proptest-regressions/emulator.txt")
}

#[test]
fn clean_emulator_passes_a_small_budget() {
    let path = committed_regressions();
    let replayed = load_regressions(&path).len();
    let report = run_with(Vec::new(), &options(12, 0x5eed, 10, Some(path)), OURS);
    let failure = report
        .first_failure()
        .map(|f| format!("{}\n{:#?}\nreplay: {}", f.message, f.shrunk, f.replay));
    assert_eq!(failure, None, "the clean emulator must pass");
    assert_eq!(report.passed(), 12 + replayed);
    assert!(
        report.cases.iter().any(|c| c.steps > 1),
        "sequences have several steps"
    );
}

/// Runs the suite with one planted bug against our driver with its read-back checks off
/// (a driver that trusts Cinder), and checks the failure is shrunk, names the invariant
/// the catalogue records (a typed reason, not a phrase), is persisted and replays.
/// Returns (invariant, shrunk length) for the table in docs/conformance.md.
fn catches(bug: &Planted, dir: &Path) -> (Invariant, usize) {
    let regressions = dir.join(format!("{}.txt", bug.name.replace(' ', "-")));
    let started = std::time::Instant::now();
    let report = run_with(
        bug.rules.clone(),
        &options(24, 0xb06, STEPS, Some(regressions.clone())),
        TRUSTING,
    );
    let case = report
        .cases
        .iter()
        .find(|c| c.failure.is_some())
        .unwrap_or_else(|| {
            panic!(
                "{}: the suite did not notice it in {} cases",
                bug.name,
                report.cases.len()
            )
        });
    let failure = case.failure.as_ref().expect("found above");
    eprintln!(
        "{}: {} case(s) in {:.1}s; caught by [{}] in {} step(s): {}",
        bug.name,
        report.cases.len(),
        started.elapsed().as_secs_f64(),
        failure.invariant,
        failure.shrunk.len(),
        failure.message
    );
    assert!(
        !failure.shrunk.is_empty() && failure.shrunk.len() <= failure.original_steps,
        "{}: shrunk {} of {} steps",
        bug.name,
        failure.shrunk.len(),
        failure.original_steps
    );
    assert_eq!(
        Some(failure.invariant),
        bug.caught_by(&DriverProfile::RUST_TRUSTING),
        "{}: caught by another invariant: {}\n{:#?}",
        bug.name,
        failure.message,
        failure.shrunk
    );
    assert!(
        failure.replay.contains(&format!("--seed {:#x}", case.seed)),
        "{}",
        failure.replay
    );
    // The failing seed was persisted, and is replayed first (and fails again).
    let persisted = load_regressions(&regressions);
    assert!(
        persisted.contains(&(case.seed, STEPS)),
        "{}: {persisted:?}",
        bug.name
    );
    let mut replay = options(0, 1, STEPS, Some(regressions));
    replay.max_shrink_iters = 0;
    let again = run_with(bug.rules.clone(), &replay, TRUSTING);
    assert!(
        !again.cases.is_empty() && again.cases.iter().all(|c| c.replayed) && again.failed() >= 1,
        "{}: replay of the persisted seeds: {:?}",
        bug.name,
        again.cases
    );
    (failure.invariant, failure.shrunk.len())
}

#[test]
fn planted_bugs_are_caught_by_the_models_invariants_against_a_trusting_driver() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Only the bugs our trusting driver does not notice by itself (see `Planted::except`),
    // and that small images trigger (the `large` ones: the fixed sequence below).
    let bugs: Vec<Planted> = catalogue()
        .into_iter()
        .filter(|b| b.caught_by(&DriverProfile::RUST_TRUSTING).is_some() && !b.large)
        .collect();
    assert!(bugs.len() >= 4, "{} planted bugs", bugs.len());
    // the trusting driver skips its wait for `available` after a detach, so the sticky
    // attachment runs against it too
    assert!(
        bugs.iter().any(|b| b.name == "attachment left by a detach"),
        "{bugs:?}"
    );
    // The control: without a planted bug the trusting driver passes, so what the planted
    // runs catch is the bug, not the trust.
    let clean = run_with(Vec::new(), &options(8, 0x5eed, STEPS, None), TRUSTING);
    let failure = clean
        .first_failure()
        .map(|f| format!("{}\n{:#?}", f.message, f.shrunk));
    assert_eq!(
        failure, None,
        "the trusting driver fails on a clean emulator"
    );
    assert_eq!(clean.passed(), 8);
    let caught: Vec<(Invariant, usize)> = std::thread::scope(|scope| {
        let runs: Vec<_> = bugs
            .iter()
            .map(|bug| scope.spawn(|| catches(bug, dir.path())))
            .collect();
        runs.into_iter()
            .map(|run| run.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    eprintln!("| planted bug | invariant | shrunk steps |");
    for (bug, (invariant, steps)) in bugs.iter().zip(&caught) {
        eprintln!("| {} | `{invariant}` | {steps} |", bug.name);
    }
}

/// The planted bugs only an unknown-size upload crossing a GiB triggers (the driver
/// extends the volume): too slow for the random search, so each runs as one fixed
/// sequence — upload `Planted::LARGE_LEN` bytes without the size, read the first 4 KiB
/// back — against our trusting driver. With the bug it must break the catalogue's
/// invariant; without it the same sequence must pass (the sequence is sound).
#[test]
fn planted_bugs_needing_a_gib_crossing_upload_are_caught_on_a_fixed_sequence() {
    let bugs: Vec<Planted> = catalogue().into_iter().filter(|b| b.large).collect();
    assert!(!bugs.is_empty(), "a large planted bug");
    let ops = vec![
        Op::Upload {
            key: 0,
            store: None,
            content: Content {
                seed: 0x7e1a,
                len: Planted::LARGE_LEN,
            },
            declared: false,
        },
        Op::DownloadRange {
            key: 0,
            offset: 0,
            length: 4096,
        },
    ];
    let session = |rules: Vec<Value>| {
        sessions_n(1, rules, trusting, DriverProfile::RUST_TRUSTING, false)
            .pop()
            .expect("one session")
    };
    for bug in &bugs {
        let want = bug.caught_by(&DriverProfile::RUST_TRUSTING);
        let started = std::time::Instant::now();
        let (got, _session) = replay_ops(session(bug.rules.clone()), ops.clone());
        let violation = got.expect_err("the planted bug is caught");
        eprintln!(
            "{}: fixed sequence of {} steps in {:.1}s; caught by [{}]: {}",
            bug.name,
            ops.len(),
            started.elapsed().as_secs_f64(),
            violation.invariant,
            violation.message
        );
        assert_eq!(
            Some(violation.invariant),
            want,
            "{}: caught by another invariant: {violation}",
            bug.name
        );
    }
    let (clean, _session) = replay_ops(session(Vec::new()), ops);
    assert_eq!(clean, Ok(()), "the sequence fails even without a bug");
}

/// The same properties with every volume type on the emulator's NFS backend: the clean
/// run passes, bit rot on NFS reads (matched by operation name) and at rest is caught.
#[test]
fn over_nfs_clean_passes_and_bit_rot_is_caught() {
    let report = run_on(Vec::new(), &options(8, 0x5eed, 8, None), OURS, true);
    let failure = report
        .first_failure()
        .map(|f| format!("{}\n{:#?}\nreplay: {}", f.message, f.shrunk, f.replay));
    assert_eq!(failure, None, "the clean emulator over NFS must pass");
    assert_eq!(report.passed(), 8);
    for rule in [
        json!({"id": "planted-nfs-read-rot", "operation": "nfs.read",
               "effect": {"bit_rot": 8, "seed": 7}}),
        json!({"id": "planted-bit-rot", "effect": {"bit_rot": 8, "seed": 7}}),
    ] {
        let report = run_on(
            vec![rule.clone()],
            &options(24, 0xb06, STEPS, None),
            OURS,
            true,
        );
        let failure = report
            .cases
            .iter()
            .find_map(|c| c.failure.as_ref())
            .unwrap_or_else(|| panic!("{rule}: not noticed in {} cases", report.cases.len()));
        let reason = failure.message.to_lowercase();
        assert!(
            reason.contains("bytes differ") || reason.contains("md5"),
            "{rule}: unexpected reason {:?}",
            failure.message
        );
    }
}
