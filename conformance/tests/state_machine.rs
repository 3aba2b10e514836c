//! The property-based suite against the embedded emulator: a small clean budget that must
//! pass, and planted bugs from the fault catalogue that it must catch and shrink.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cinderbox_conformance::runner::{self, load_regressions, Report, RunOptions};
use cinderbox_conformance::session::{EmulatorOptions, Session, Shape, Where};
use cinderbox_conformance::target::DriverTarget;
use serde_json::{json, Value};

const JOBS: usize = 4;
/// Longest planted-bug sequence: short sequences shrink fast.
const STEPS: usize = 8;

fn sessions(rules: Vec<Value>, nfs: bool) -> Vec<Session> {
    let place = Where::Emulator(EmulatorOptions {
        scenario: None,
        rules,
        state_timeout_s: 2,
        delay: Duration::ZERO,
        nfs,
    });
    // Tiny images: single chunk, a few KiB at most.
    let shape = Shape {
        max_image_bytes: 16 << 10,
        large: false,
    };
    (0..JOBS)
        .map(|_| {
            Session::new(
                place.clone(),
                shape.clone(),
                Box::new(|| Box::new(DriverTarget::new())),
            )
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

fn run(rules: Vec<Value>, opts: &RunOptions) -> Report {
    run_on(rules, opts, false)
}

fn run_on(rules: Vec<Value>, opts: &RunOptions, nfs: bool) -> Report {
    let (report, _sessions) = runner::run(sessions(rules, nfs), opts, &|_| {});
    report
}

fn committed_regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("proptest-regressions/emulator.txt")
}

#[test]
fn clean_emulator_passes_a_small_budget() {
    let path = committed_regressions();
    let replayed = load_regressions(&path).len();
    let report = run(Vec::new(), &options(12, 0x5eed, 10, Some(path)));
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

/// A planted bug: the rule (control API JSON, fields of a scenario `[[rule]]`) and words
/// one of which the shrunk failure's reason must contain.
struct Planted {
    name: &'static str,
    rule: Value,
    because: &'static [&'static str],
}

fn planted() -> Vec<Planted> {
    vec![
        Planted {
            name: "bit rot",
            rule: json!({"id": "planted-bit-rot", "effect": {"bit_rot": 8, "seed": 7}}),
            because: &["bytes differ", "md5"],
        },
        Planted {
            name: "wrong volume type",
            rule: json!({"id": "planted-wrong-type", "operation": "volume.create",
                         "effect": {"lie": "volume_type", "volume_type": "glance-new"}}),
            because: &["inconsistent", "has type"],
        },
        Planted {
            name: "lost metadata write",
            rule: json!({"id": "planted-lost-metadata",
                         "operation": ["volume.metadata.create", "volume.metadata.replace", "volume.metadata.update_key"],
                         "effect": {"lie": "ack"}}),
            because: &["inconsistent", "image_size"],
        },
        Planted {
            name: "silent delete",
            rule: json!({"id": "planted-silent-delete", "operation": "volume.delete", "effect": {"lie": "ack"}}),
            because: &["still exists", "did not become", "Delete"],
        },
    ]
}

/// Runs the suite with one planted bug and checks it fails, shrunk, persisted and replayed.
fn catches(bug: &Planted, dir: &Path) {
    let regressions = dir.join(format!("{}.txt", bug.name.replace(' ', "-")));
    let started = std::time::Instant::now();
    let report = run(
        vec![bug.rule.clone()],
        &options(24, 0xb06, STEPS, Some(regressions.clone())),
    );
    eprintln!(
        "{}: {} case(s) in {:.1}s",
        bug.name,
        report.cases.len(),
        started.elapsed().as_secs_f64()
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
    assert!(
        !failure.shrunk.is_empty() && failure.shrunk.len() <= failure.original_steps,
        "{}: shrunk {} of {} steps",
        bug.name,
        failure.shrunk.len(),
        failure.original_steps
    );
    let reason = failure.message.to_lowercase();
    assert!(
        bug.because
            .iter()
            .any(|w| reason.contains(&w.to_lowercase())),
        "{}: unexpected reason {:?} for {:#?}",
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
    let again = run(vec![bug.rule.clone()], &replay);
    assert!(
        !again.cases.is_empty() && again.cases.iter().all(|c| c.replayed) && again.failed() >= 1,
        "{}: replay of the persisted seeds: {:?}",
        bug.name,
        again.cases
    );
}

#[test]
fn planted_bugs_fail_with_a_shrunk_counterexample() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bugs = planted();
    std::thread::scope(|scope| {
        let runs: Vec<_> = bugs
            .iter()
            .map(|bug| scope.spawn(|| catches(bug, dir.path())))
            .collect();
        for run in runs {
            if let Err(panic) = run.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

/// The same properties with every volume type on the emulator's NFS backend: the clean
/// run passes, bit rot on NFS reads (matched by operation name) and at rest is caught.
#[test]
fn over_nfs_clean_passes_and_bit_rot_is_caught() {
    let report = run_on(Vec::new(), &options(8, 0x5eed, 8, None), true);
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
        let report = run_on(vec![rule.clone()], &options(24, 0xb06, STEPS, None), true);
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
