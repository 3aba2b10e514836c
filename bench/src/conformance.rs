//! Row 5: conformance cases per second against the emulator, by running the
//! `cinderbox-conformance` binary built beside this one. The baseline is the issue's
//! target rate: 256 cases in 2 minutes.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context as _};
use serde_json::{json, Value};

use crate::stats::ratio;

pub fn run(quick: bool) -> anyhow::Result<Value> {
    let cases = if quick { 16 } else { 256 };
    let exe = std::env::current_exe()?
        .parent()
        .context("bench binary has a directory")?
        .join("cinderbox-conformance");
    if !exe.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release -p cinderbox-conformance`",
            exe.display()
        );
    }
    let t0 = Instant::now();
    let out = Command::new(&exe)
        .args(["--cases", &cases.to_string(), "--seed", "1", "--no-persist"])
        .output()
        .context("running cinderbox-conformance")?;
    let elapsed = t0.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default().to_string();
    if !out.status.success() {
        bail!(
            "conformance run failed: {last}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rate = cases as f64 / elapsed.as_secs_f64();
    let target = 256.0 / 120.0;
    Ok(json!({
        "cases": cases,
        "seconds": elapsed.as_secs_f64(),
        "cases_per_s": rate,
        "summary": last,
        "rows": [[
            format!("conformance {cases} cases (cases/s)"),
            format!("{rate:.2} ({:.1} s)", elapsed.as_secs_f64()),
            format!("{target:.2} target (256 in 120 s)"),
            format!("{:.2}x", ratio(rate, target)),
        ]],
    }))
}
