//! `cinderbox-conformance`: runs the property-based suite against the embedded emulator
//! (default) or a real cloud (`--glance-config`), prints progress, a summary and a last line
//! `N passed, M failed`; exits 1 on failure.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

use cinderbox_conformance::adapter::{
    python_glance_store_setup_version, AdapterCommand, GlanceStoreVersion,
};
use cinderbox_conformance::adapter_target::AdapterPool;
use cinderbox_conformance::profile::DriverProfile;
use cinderbox_conformance::runner::{self, RunOptions};
use cinderbox_conformance::session::{EmulatorOptions, Session, Shape, TargetFactory, Where};
use cinderbox_conformance::target::DriverTarget;

/// The drivers `--driver` can test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Driver {
    /// Our Rust driver, in process.
    Rust,
    /// Our Rust driver behind the adapter protocol (`cinderbox-rust-adapter`).
    RustAdapter,
    /// Upstream glance_store's cinder driver (Python; its venv is built on first use).
    PythonGlanceStore,
}

impl Driver {
    fn name(self) -> &'static str {
        match self {
            Driver::Rust => "rust",
            Driver::RustAdapter => "rust-adapter",
            Driver::PythonGlanceStore => "python-glance-store",
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Property-based conformance suite for Glance cinder stores"
)]
struct Args {
    /// The driver under test; the adapters run one process per worker.
    #[arg(long, value_enum, default_value_t = Driver::Rust)]
    driver: Driver,
    /// With `--driver python-glance-store`: the pinned upstream release, 5.7.0 or 5.4.1
    /// (stable/2026.1); each has its own venv and profile.
    #[arg(long, value_parser = parse_glance_store, default_value = "5.7.0")]
    glance_store: GlanceStoreVersion,
    /// Number of fresh random cases (persisted failures are replayed first, in addition).
    #[arg(long, default_value_t = 64)]
    cases: u32,
    /// Seed of the run (decimal or 0x-hex); random when omitted.
    #[arg(long, value_parser = parse_seed)]
    seed: Option<u64>,
    /// Longest sequence of operations per case.
    #[arg(long, default_value_t = 24)]
    max_steps: usize,
    /// Write a JUnit XML report here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Run against the real cloud this glance-api.conf names (admin credentials for the
    /// checks come from OS_CLOUD + clouds.yaml or OS_* variables).
    #[arg(long)]
    glance_config: Option<PathBuf>,
    /// Largest ordinary image in bytes (above 4 MiB uploads span several chunks).
    #[arg(long, default_value_t = 9 << 20)]
    max_image_bytes: u64,
    /// Also generate (rarely) uploads crossing a GiB boundary. Slow.
    #[arg(long)]
    large: bool,
    /// Emulator only: install this fault scenario in every case (e.g. a planted bug).
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Emulator only: every volume type on the emulator's NFS backend, so the driver reads
    /// and writes over NFSv3 (userspace client) instead of by path.
    #[arg(long)]
    nfs: bool,
    /// Emulator only: never wrap a step in a transient fault (503s, slow creates).
    #[arg(long)]
    no_faults: bool,
    /// Emulator only: cinder_state_transition_timeout of the generated configuration.
    #[arg(long, default_value_t = 5)]
    state_timeout_s: u64,
    /// Where failing seeds are persisted and replayed from.
    #[arg(long)]
    regressions: Option<PathBuf>,
    /// Neither replay nor persist failing seeds.
    #[arg(long)]
    no_persist: bool,
    /// Cases run at once, each on its own emulator (a real cloud always uses 1).
    #[arg(long, default_value_t = 12)]
    jobs: usize,
    /// Bound on shrinking.
    #[arg(long, default_value_t = 256)]
    max_shrink_iters: u32,
    #[arg(long, default_value_t = 120)]
    max_shrink_time_s: u64,
    /// Concurrent-workers mode (emulator only): this many driver instances act on the
    /// same stores and images at once, each case checked for a serial order that
    /// explains every outcome (`src/concurrent.rs`).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Concurrent mode: calls per worker per case.
    #[arg(long, default_value_t = 3)]
    worker_ops: usize,
    /// Concurrent mode: images uploaded first, which every worker uses.
    #[arg(long, default_value_t = 2)]
    shared_images: usize,
}

fn parse_seed(s: &str) -> Result<u64, String> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("bad seed '{s}': {e}"))
}

fn parse_glance_store(s: &str) -> Result<GlanceStoreVersion, String> {
    GlanceStoreVersion::parse(s).ok_or_else(|| {
        let pinned: Vec<&str> = GlanceStoreVersion::ALL.iter().map(|v| v.as_str()).collect();
        format!(
            "glance_store {s} is not pinned; pinned: {}",
            pinned.join(", ")
        )
    })
}

/// Per place and driver: a seed that fails one driver says nothing about another.
fn default_regressions(cloud: bool, driver: Driver, glance_store: GlanceStoreVersion) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("proptest-regressions");
    let dir = if dir.is_dir() {
        dir
    } else {
        PathBuf::from("proptest-regressions")
    };
    let place = if cloud { "cloud" } else { "emulator" };
    match driver {
        Driver::Rust => dir.join(format!("{place}.txt")),
        Driver::PythonGlanceStore if glance_store != GlanceStoreVersion::V5_7_0 => {
            dir.join(format!("{place}-{}-{glance_store}.txt", driver.name()))
        }
        other => dir.join(format!("{place}-{}.txt", other.name())),
    }
}

/// The command line that reruns this target (without seed, cases and steps).
fn replay_prefix(args: &Args) -> String {
    let mut cmd = String::from("cargo run --release -p cinderbox-conformance --");
    if args.driver != Driver::Rust {
        cmd.push_str(&format!(" --driver {}", args.driver.name()));
    }
    if args.driver == Driver::PythonGlanceStore && args.glance_store != GlanceStoreVersion::V5_7_0 {
        cmd.push_str(&format!(" --glance-store {}", args.glance_store));
    }
    if let Some(c) = &args.glance_config {
        cmd.push_str(&format!(" --glance-config {}", c.display()));
    }
    if let Some(s) = &args.scenario {
        cmd.push_str(&format!(" --scenario {}", s.display()));
    }
    if args.large {
        cmd.push_str(" --large");
    }
    if args.no_faults {
        cmd.push_str(" --no-faults");
    }
    if args.nfs {
        cmd.push_str(" --nfs");
    }
    cmd.push_str(&format!(" --max-image-bytes {}", args.max_image_bytes));
    cmd
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("cinderbox-conformance: {e:#}");
            println!("0 passed, 1 failed");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<bool> {
    let place = match &args.glance_config {
        None => Where::Emulator(EmulatorOptions {
            scenario: args.scenario.clone(),
            rules: Vec::new(),
            state_timeout_s: args.state_timeout_s,
            delay: Duration::ZERO,
            nfs: args.nfs,
        }),
        Some(file) => Where::Cloud {
            glance_config: file.clone(),
            admin: cinderbox_conformance::cloud::admin_credentials()
                .context("admin credentials for the checks")?,
        },
    };
    let shape = Shape {
        max_image_bytes: args.max_image_bytes,
        large: args.large,
    };
    let jobs = if args.glance_config.is_some() {
        1
    } else {
        args.jobs.clamp(1, 64)
    };
    let command = match args.driver {
        Driver::Rust => None,
        Driver::RustAdapter => {
            Some(AdapterCommand::rust_beside_current_exe().context("finding the Rust adapter")?)
        }
        Driver::PythonGlanceStore => {
            eprintln!(
                "cinderbox-conformance: preparing upstream glance_store {}'s venv (setup.sh)…",
                args.glance_store
            );
            let python = python_glance_store_setup_version(args.glance_store, None)
                .map_err(|e| anyhow::anyhow!("building the glance_store venv: {e}"))?;
            Some(AdapterCommand::python_glance_store(python))
        }
    };
    let profile = match args.driver {
        Driver::PythonGlanceStore => DriverProfile::for_glance_store(args.glance_store),
        Driver::Rust | Driver::RustAdapter => {
            DriverProfile::for_driver(args.driver.name()).context("every --driver has a profile")?
        }
    };
    if args.workers > 1 {
        return run_concurrent(&args, command, profile);
    }
    let mut sessions = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        let factory: TargetFactory = match &command {
            None => Box::new(|| Box::new(DriverTarget::new())),
            Some(command) => {
                let pool = AdapterPool::new(command.clone()).context("adapter work directory")?;
                Box::new(move || Box::new(pool.target()))
            }
        };
        let mut session = Session::with_profile(place.clone(), shape.clone(), factory, profile)?;
        if args.no_faults {
            session.disable_transient_faults();
        }
        sessions.push(session);
    }
    if let Some(handle) = sessions[0].cleanup_handle() {
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            if rt.block_on(tokio::signal::ctrl_c()).is_ok() {
                eprintln!("\ninterrupted: removing every volume this run created…");
                match handle.run() {
                    Ok(n) => eprintln!("removed {n} volume(s)"),
                    Err(e) => eprintln!(
                        "cleanup failed: {e:#}; check the cloud for volumes named image-<uuid>"
                    ),
                }
                std::process::exit(130);
            }
        });
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let regressions = (!args.no_persist).then(|| {
        args.regressions.clone().unwrap_or_else(|| {
            default_regressions(args.glance_config.is_some(), args.driver, args.glance_store)
        })
    });
    let opts = RunOptions {
        cases: args.cases,
        seed,
        max_steps: args.max_steps,
        regressions,
        max_shrink_iters: args.max_shrink_iters,
        max_shrink_time: Duration::from_secs(args.max_shrink_time_s),
        replay_prefix: replay_prefix(&args),
    };
    let target = match &args.glance_config {
        Some(c) => format!("the cloud of {}", c.display()),
        None => "the embedded emulator".to_string(),
    };
    let driver = match args.driver {
        Driver::PythonGlanceStore => format!("{} {}", args.driver.name(), args.glance_store),
        Driver::Rust | Driver::RustAdapter => args.driver.name().to_string(),
    };
    eprintln!(
        "cinderbox-conformance: {} case(s) of up to {} steps of driver {driver} against {target}, seed {seed:#x}",
        args.cases,
        args.max_steps,
    );
    let total_hint = args.cases;
    let (report, sessions) = runner::run(sessions, &opts, &|c| {
        let verdict = if c.failure.is_some() { "FAILED" } else { "ok" };
        eprintln!(
            "case {:>4}/{total_hint}{} seed={:#018x} steps={:>3} {verdict} ({:.2}s)",
            c.index + 1,
            if c.replayed { " (replayed)" } else { "" },
            c.seed,
            c.steps,
            c.elapsed.as_secs_f64()
        );
    });
    for mut session in sessions {
        if let Err(e) = session.cleanup() {
            eprintln!("cleanup after the run failed: {e:#}");
        }
    }
    let steps: usize = report.cases.iter().map(|c| c.steps).sum();
    println!(
        "ran {} case(s), {steps} step(s) of driver {driver} in {:.1}s against {target} (seed {seed:#x})",
        report.cases.len(),
        report.elapsed.as_secs_f64()
    );
    for (c, f) in report
        .cases
        .iter()
        .filter_map(|c| Some((c, c.failure.as_ref()?)))
    {
        println!(
            "\nFAILURE of case {} (seed {:#x}), shrunk from {} to {} step(s) in {} iteration(s):\n  {}",
            c.index + 1,
            c.seed,
            f.original_steps,
            f.shrunk.len(),
            f.shrink_iterations,
            f.message
        );
        for (i, op) in f.shrunk.iter().enumerate() {
            println!("  {:>3}. {op:?}", i + 1);
        }
        println!("replay: {}", f.replay);
    }
    if let Some(path) = &args.junit {
        let xml = runner::junit(&report, "cinderbox-conformance").context("JUnit report")?;
        std::fs::write(path, xml).with_context(|| format!("write {}", path.display()))?;
    }
    println!("{} passed, {} failed", report.passed(), report.failed());
    Ok(report.failed() == 0)
}

/// `--workers N`: the concurrent-workers mode, one case at a time.
fn run_concurrent(
    args: &Args,
    command: Option<AdapterCommand>,
    profile: DriverProfile,
) -> Result<bool> {
    use cinderbox_conformance::concurrent;
    anyhow::ensure!(
        args.glance_config.is_none(),
        "--workers runs against the embedded emulator only"
    );
    let driver = match command {
        None => concurrent::Driver::Rust,
        Some(c) => concurrent::Driver::Adapter(c),
    };
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let options = concurrent::Options {
        workers: args.workers.clamp(2, 16),
        ops_per_worker: args.worker_ops.clamp(1, 8),
        shared_images: args.shared_images.clamp(1, 8),
        cases: args.cases,
        seed,
        max_shrink_iters: args.max_shrink_iters.min(64),
    };
    eprintln!(
        "cinderbox-conformance: {} concurrent case(s), {} workers × {} calls on {} shared image(s), driver {}, seed {seed:#x}",
        options.cases, options.workers, options.ops_per_worker, options.shared_images, profile.name
    );
    let started = std::time::Instant::now();
    let results = concurrent::run(&driver, profile, &options, &|c| {
        let verdict = if c.failure.is_some() { "FAILED" } else { "ok" };
        eprintln!("case seed={:#018x} {verdict}", c.seed);
    })?;
    let failed: Vec<_> = results.iter().filter(|c| c.failure.is_some()).collect();
    for c in &failed {
        println!(
            "\nFAILURE of concurrent case seed {:#x}, shrunk to {} call(s):\n  {}",
            c.seed,
            c.plan.iter().map(Vec::len).sum::<usize>(),
            c.failure.as_deref().unwrap_or_default()
        );
        for (w, ops) in c.plan.iter().enumerate() {
            println!("  worker {w}: {ops:?}");
        }
        println!(
            "replay: {} --workers {} --worker-ops {} --shared-images {} --seed {:#x} --cases 1",
            replay_prefix(args),
            options.workers,
            options.ops_per_worker,
            options.shared_images,
            c.seed
        );
    }
    println!(
        "ran {} concurrent case(s) of {} workers in {:.1}s (seed {seed:#x})",
        results.len(),
        options.workers,
        started.elapsed().as_secs_f64()
    );
    println!(
        "{} passed, {} failed",
        results.len() - failed.len(),
        failed.len()
    );
    Ok(failed.is_empty())
}
