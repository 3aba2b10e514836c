//! Runs cases: persisted failures first, then fresh seeds; shrinks the first failure to a
//! smallest sequence, persists its seed, and reports (text and JUnit).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};

use crate::invariant::{Invariant, Violation};
use crate::machine::{set_start, Conformance, Op};
use crate::session::Session;
use crate::sut::{install_session, take_session};

/// What to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub cases: u32,
    pub seed: u64,
    pub max_steps: usize,
    /// Seeds of past failures, replayed first; a new failure is appended.
    pub regressions: Option<PathBuf>,
    pub max_shrink_iters: u32,
    pub max_shrink_time: Duration,
    /// The command line that reruns this target, without `--seed/--cases/--max-steps`.
    pub replay_prefix: String,
}

/// A failing case after shrinking.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The invariant the smallest sequence breaks.
    pub invariant: Invariant,
    /// Why it fails: `[invariant] what was seen`.
    pub message: String,
    pub original_steps: usize,
    pub shrunk: Vec<Op>,
    pub shrink_iterations: u32,
    pub replay: String,
}

#[derive(Clone, Debug)]
pub struct CaseOutcome {
    pub index: usize,
    pub seed: u64,
    pub max_steps: usize,
    pub replayed: bool,
    pub steps: usize,
    pub elapsed: Duration,
    pub failure: Option<Failure>,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub cases: Vec<CaseOutcome>,
    pub elapsed: Duration,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.failure.is_none()).count()
    }
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }
    pub fn first_failure(&self) -> Option<&Failure> {
        self.cases.iter().find_map(|c| c.failure.as_ref())
    }
}

/// The seed of case `index` of a run seeded with `seed`: case 0 uses `seed` itself, so
/// `--seed <case seed> --cases 1` replays any case exactly.
pub fn case_seed(seed: u64, index: u64) -> u64 {
    if index == 0 {
        return seed;
    }
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn runner_for(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&seed.wrapping_add(i as u64).to_le_bytes());
    }
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

type Sequence = (
    crate::machine::Reference,
    Vec<Op>,
    Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
);

/// Runs one sequence; `Err` carries the first broken expectation.
fn execute(sequence: Sequence) -> Result<(), Violation> {
    let (state, ops, seen) = sequence;
    IN_CASE.with(|f| f.set(true));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        Conformance::test_sequential(Config::default(), state, ops, seen)
    }));
    IN_CASE.with(|f| f.set(false));
    outcome.map_err(|payload| Violation::from_panic(payload.as_ref()))
}

/// Persisted seeds: lines `cc <seed hex> <max steps> # <why>`.
pub fn load_regressions(path: &Path) -> Vec<(u64, usize)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let mut words = line.split('#').next()?.split_whitespace();
            (words.next()? == "cc").then_some(())?;
            let seed = u64::from_str_radix(words.next()?.trim_start_matches("0x"), 16).ok()?;
            let steps = words.next()?.parse().ok()?;
            Some((seed, steps))
        })
        .collect()
}

fn save_regression(
    path: &Path,
    seed: u64,
    max_steps: usize,
    failure: &Failure,
) -> std::io::Result<()> {
    if load_regressions(path).contains(&(seed, max_steps)) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let fresh = !path.exists();
    let mut text = String::new();
    if fresh {
        text.push_str(
            "# Seeds of failing cinderbox-conformance cases, replayed before new cases.\n\
             # Format: cc <seed hex> <max steps> # <why, shrunk>. Keep this file in git.\n",
        );
    }
    let why = failure.message.lines().next().unwrap_or_default();
    text.push_str(&format!(
        "cc {seed:#018x} {max_steps} # {} step(s): {why}\n",
        failure.shrunk.len()
    ));
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(text.as_bytes())
}

/// Runs `opts` with one worker thread per session (each case on a fresh emulator is
/// independent, and most of a case's time is spent waiting for Cinder). Workers stop
/// taking cases after the first failure; each failure is shrunk on its worker. `progress`
/// sees every case as it ends.
pub fn run(
    sessions: Vec<Session>,
    opts: &RunOptions,
    progress: &(dyn Fn(&CaseOutcome) + Sync),
) -> (Report, Vec<Session>) {
    let started = Instant::now();
    quiet_case_panics();
    let mut plan: Vec<(u64, usize, bool)> = opts
        .regressions
        .as_deref()
        .map(load_regressions)
        .unwrap_or_default()
        .into_iter()
        .map(|(seed, steps)| (seed, steps, true))
        .collect();
    plan.extend(
        (0..u64::from(opts.cases)).map(|i| (case_seed(opts.seed, i), opts.max_steps, false)),
    );
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let outcomes = Mutex::new(Vec::new());
    let sessions: Vec<Session> = std::thread::scope(|scope| {
        let workers: Vec<_> = sessions
            .into_iter()
            .map(|session| {
                let (plan, next, stop, outcomes) = (&plan, &next, &stop, &outcomes);
                scope.spawn(move || {
                    set_start(session.template.clone(), session.profile);
                    install_session(session);
                    while !stop.load(Ordering::SeqCst) {
                        let index = next.fetch_add(1, Ordering::SeqCst);
                        let Some(&(seed, max_steps, replayed)) = plan.get(index) else {
                            break;
                        };
                        let outcome = run_case(index, seed, max_steps, replayed, opts);
                        if outcome.failure.is_some() {
                            stop.store(true, Ordering::SeqCst);
                        }
                        progress(&outcome);
                        outcomes
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(outcome);
                    }
                    take_session().expect("the session is given back after every case")
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut cases = outcomes.into_inner().unwrap_or_else(|p| p.into_inner());
    cases.sort_by_key(|c| c.index);
    for failure in cases.iter().filter(|c| c.failure.is_some() && !c.replayed) {
        if let (Some(f), Some(path)) = (&failure.failure, &opts.regressions) {
            if let Err(e) = save_regression(path, failure.seed, failure.max_steps, f) {
                eprintln!("cannot persist the failing seed to {}: {e}", path.display());
            }
        }
    }
    let report = Report {
        cases,
        elapsed: started.elapsed(),
    };
    (report, sessions)
}

/// Runs one fixed sequence (a named regression) on `session`, on this thread, from the
/// session's starting model; gives the session back with the first broken invariant.
pub fn replay_ops(session: Session, ops: Vec<Op>) -> (Result<(), Violation>, Session) {
    quiet_case_panics();
    set_start(session.template.clone(), session.profile);
    let start = crate::machine::Reference {
        model: session.template.clone(),
        profile: session.profile,
    };
    install_session(session);
    let outcome = execute((start, ops, None));
    let session = take_session().expect("the session is given back after the case");
    (outcome, session)
}

thread_local! {
    /// Set while this thread executes a case: its panics are expected failures.
    static IN_CASE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs (once) a panic hook that stays quiet for panics inside cases, which the runner
/// catches and reports, and hands every other panic to the previous hook.
/// `CINDERBOX_CONFORMANCE_DEBUG` keeps case panics loud too.
fn quiet_case_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let loud = std::env::var_os("CINDERBOX_CONFORMANCE_DEBUG").is_some();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if loud || !IN_CASE.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Generates, runs and (on failure) shrinks one case on this worker's session.
fn run_case(
    index: usize,
    seed: u64,
    max_steps: usize,
    replayed: bool,
    opts: &RunOptions,
) -> CaseOutcome {
    let case_started = Instant::now();
    let mut runner = runner_for(seed);
    let strategy = Conformance::sequential_strategy(1..=max_steps.max(1));
    let mut outcome = CaseOutcome {
        index,
        seed,
        max_steps,
        replayed,
        steps: 0,
        elapsed: Duration::ZERO,
        failure: None,
    };
    match strategy.new_tree(&mut runner) {
        Err(why) => {
            outcome.failure = Some(Failure {
                invariant: Invariant::Harness,
                message: format!("harness: cannot generate a sequence: {why}"),
                original_steps: 0,
                shrunk: Vec::new(),
                shrink_iterations: 0,
                replay: replay(opts, seed, max_steps),
            });
        }
        Ok(mut tree) => {
            let first = tree.current();
            let ops = first.1.clone();
            outcome.steps = ops.len();
            if let Err(message) = execute(first) {
                outcome.failure = Some(shrink(&mut tree, (ops, message), opts, seed, max_steps));
            }
        }
    }
    outcome.elapsed = case_started.elapsed();
    outcome
}

/// proptest's shrinking loop over the sequence tree: simplify while it still fails,
/// complicate when a simplification passes; bounded by iterations and time.
fn shrink<T>(
    tree: &mut T,
    first: (Vec<Op>, Violation),
    opts: &RunOptions,
    seed: u64,
    max_steps: usize,
) -> Failure
where
    T: ValueTree<Value = Sequence>,
{
    let started = Instant::now();
    let original_steps = first.0.len();
    let mut last = first;
    let mut iterations = 0;
    if tree.simplify() {
        while iterations < opts.max_shrink_iters && started.elapsed() < opts.max_shrink_time {
            iterations += 1;
            let candidate = tree.current();
            let ops = candidate.1.clone();
            match execute(candidate) {
                Err(why) => {
                    last = (ops, why);
                    if !tree.simplify() {
                        break;
                    }
                }
                Ok(()) => {
                    if !tree.complicate() {
                        break;
                    }
                }
            }
        }
    }
    Failure {
        invariant: last.1.invariant,
        message: last.1.to_string(),
        original_steps,
        shrunk: last.0,
        shrink_iterations: iterations,
        replay: replay(opts, seed, max_steps),
    }
}

fn replay(opts: &RunOptions, seed: u64, max_steps: usize) -> String {
    format!(
        "{} --seed {seed:#x} --cases 1 --max-steps {max_steps}",
        opts.replay_prefix
    )
}

/// The report as JUnit XML (one testcase per case; quick-junit writes and escapes it).
pub fn junit(report: &Report, suite: &str) -> Result<String, quick_junit::SerializeError> {
    use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
    let mut cases = TestSuite::new(suite);
    cases.set_time(report.elapsed);
    for c in &report.cases {
        let name = format!(
            "case {} seed={:#x}{}",
            c.index,
            c.seed,
            if c.replayed { " (replayed)" } else { "" }
        );
        let status = match &c.failure {
            None => TestCaseStatus::success(),
            Some(f) => {
                let steps: Vec<String> = f
                    .shrunk
                    .iter()
                    .enumerate()
                    .map(|(i, op)| format!("{}. {op:?}", i + 1))
                    .collect();
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_message(f.message.lines().next().unwrap_or_default())
                    .set_description(format!("{}\n\nreplay: {}", steps.join("\n"), f.replay));
                status
            }
        };
        let mut case = TestCase::new(name, status);
        case.set_classname(suite).set_time(c.elapsed);
        cases.add_test_case(case);
    }
    let mut out = quick_junit::Report::new(suite);
    out.set_time(report.elapsed).add_test_suite(cases);
    out.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_zero_uses_the_run_seed_and_others_differ() {
        assert_eq!(case_seed(0xabc, 0), 0xabc);
        let seeds: std::collections::HashSet<u64> = (0..100).map(|i| case_seed(0xabc, i)).collect();
        assert_eq!(seeds.len(), 100);
    }

    #[test]
    fn regressions_round_trip_without_duplicates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/seeds.txt");
        let failure = Failure {
            invariant: Invariant::Outcome,
            message: "Delete { key: 0 }: expected Ok(()), got Err(..)\nmore".into(),
            original_steps: 9,
            shrunk: vec![Op::Restart],
            shrink_iterations: 3,
            replay: String::new(),
        };
        save_regression(&path, 0x1234, 8, &failure).expect("saved");
        save_regression(&path, 0x1234, 8, &failure).expect("saved again");
        save_regression(&path, u64::MAX, 12, &failure).expect("saved");
        assert_eq!(load_regressions(&path), vec![(0x1234, 8), (u64::MAX, 12)]);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.starts_with("# Seeds"), "{text}");
        assert!(text.contains("# 1 step(s): Delete { key: 0 }"), "{text}");
        assert_eq!(load_regressions(&dir.path().join("missing.txt")), vec![]);
    }

    #[test]
    fn junit_escapes_and_counts() {
        let case = |index, failure| CaseOutcome {
            index,
            seed: 7,
            max_steps: 4,
            replayed: false,
            steps: 2,
            elapsed: Duration::from_millis(5),
            failure,
        };
        let report = Report {
            cases: vec![
                case(0, None),
                case(
                    1,
                    Some(Failure {
                        invariant: Invariant::ReadBytes,
                        message: "bytes <differ> & \"more\"".into(),
                        original_steps: 2,
                        shrunk: vec![Op::Restart],
                        shrink_iterations: 1,
                        replay: "x --seed 0x7".into(),
                    }),
                ),
            ],
            elapsed: Duration::from_secs(1),
        };
        let xml = junit(&report, "suite").expect("serialised");
        assert!(
            xml.contains(
                "<testsuite name=\"suite\" tests=\"2\" skipped=\"0\" errors=\"0\" failures=\"1\""
            ),
            "{xml}"
        );
        assert!(
            xml.contains("message=\"bytes &lt;differ&gt; &amp; &quot;more&quot;\""),
            "{xml}"
        );
        assert!(
            xml.contains("1. Restart") && xml.contains("replay: x --seed 0x7"),
            "{xml}"
        );
        assert_eq!((report.passed(), report.failed()), (1, 1));
    }
}
