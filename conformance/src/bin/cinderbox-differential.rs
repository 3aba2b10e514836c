//! `cinderbox-differential`: probes each known upstream glance_store bug against each
//! pinned release (5.4.1, 5.7.0) and our driver, each on a fresh embedded emulator, and
//! prints a Markdown table (bug × driver → reproduced or not, with the evidence). Builds
//! the venvs it needs (`setup.sh --glance-store V`, from PyPI the first time). Exit 0 when
//! every probe ran, 2 when one could not.

use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::Parser;

use cinderbox_conformance::adapter::{
    python_glance_store_setup_version, AdapterCommand, GlanceStoreVersion,
};
use cinderbox_conformance::differential::{self, Bug, ProbeOptions, Subject, Verdict};

#[derive(Parser, Debug)]
#[command(about = "Which known upstream glance_store bugs each pinned release reproduces")]
struct Args {
    /// Upstream releases to probe (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "5.4.1,5.7.0")]
    glance_store: Vec<String>,
    /// Leave out our driver (the reference column).
    #[arg(long)]
    no_ours: bool,
    /// Leave out the GiB-crossing truncation probe (it writes 1 GiB per driver).
    #[arg(long)]
    quick: bool,
    /// Every volume type on the emulator's NFS backend.
    #[arg(long)]
    nfs: bool,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("cinderbox-differential: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<bool> {
    let mut subjects = Vec::new();
    if !args.no_ours {
        let command = AdapterCommand::rust_beside_current_exe()
            .context("finding cinderbox-rust-adapter (cargo build -p cinderbox-conformance)")?;
        subjects.push((Subject::Ours, command));
    }
    for text in &args.glance_store {
        let version = GlanceStoreVersion::parse(text)
            .ok_or_else(|| anyhow!("glance_store {text} is not pinned (5.4.1, 5.7.0)"))?;
        eprintln!("cinderbox-differential: preparing glance_store {version}'s venv (setup.sh)…");
        let python = python_glance_store_setup_version(version, None)
            .map_err(|e| anyhow!("building the glance_store {version} venv: {e}"))?;
        subjects.push((
            Subject::Upstream(version),
            AdapterCommand::python_glance_store(python),
        ));
    }
    let options = ProbeOptions { nfs: args.nfs };
    let bugs: Vec<Bug> = Bug::ALL
        .into_iter()
        .filter(|b| !(args.quick && *b == Bug::TruncationOnOfflineExtend))
        .collect();
    let mut rows = Vec::new();
    let mut all_ran = true;
    for bug in bugs {
        let mut verdicts = Vec::new();
        for (subject, command) in &subjects {
            let started = std::time::Instant::now();
            let verdict = differential::probe(bug, *subject, command, &options)
                .unwrap_or_else(|e| Verdict::NotRun(format!("{e:#}")));
            all_ran &= !matches!(verdict, Verdict::NotRun(_));
            eprintln!(
                "{} × {}: {} ({:.1}s)",
                bug.name(),
                subject.label(),
                verdict.cell(),
                started.elapsed().as_secs_f64()
            );
            verdicts.push(verdict);
        }
        rows.push((bug, verdicts));
    }
    let labels: Vec<Subject> = subjects.iter().map(|(s, _)| *s).collect();
    print!("{}", differential::table(&labels, &rows));
    Ok(all_ran)
}
