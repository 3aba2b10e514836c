//! `cinderbox-bench`: startup, API, data path and location-upgrade benchmarks, each
//! reported as a ratio against a baseline measured in the same run. Prints a table and
//! writes `bench.json`. Never asserts timings: `--quick` is a smoke run for CI.
//!
//! The binary re-executes itself for the parts that need a fresh process (emulator
//! start-up, the driver's peak memory), so it needs nothing else built.

mod api;
mod conformance;
mod datapath;
mod stats;
mod upgrade;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use serde_json::{json, Value};

use cinderbox_emulator::config::{Delays, World};

#[derive(Parser)]
#[command(
    name = "cinderbox-bench",
    about = "Benchmarks for cinderbox, as ratios against same-run baselines"
)]
struct Cli {
    /// Small sizes and short runs (under a minute): a smoke test for CI.
    #[arg(long, global = true)]
    quick: bool,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench.json", global = true)]
    out: PathBuf,
    /// Only these rows (startup, api, datapath, upgrade, conformance); default all.
    #[arg(long, value_delimiter = ',', global = true)]
    only: Vec<String>,
    /// In the api row, only these operations (token, show, list, create) beside the
    /// hello-world baseline; default all. For profiling one operation.
    #[arg(long, value_delimiter = ',', global = true)]
    api_ops: Vec<String>,
    #[command(subcommand)]
    child: Option<Child>,
}

/// Modes the benchmark runs itself in, as a child process.
#[derive(Subcommand)]
enum Child {
    /// Serve the emulator (default world) until killed; used for start-to-ready.
    #[command(hide = true)]
    ChildServe {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        ready_file: PathBuf,
    },
    /// Upload then download one image through the driver; prints JSON with peak RSS.
    #[command(hide = true)]
    ChildDatapath {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        source: PathBuf,
        #[arg(long)]
        scratch: PathBuf,
        /// The store to go through (`fast`: local files; `nfs`: the NFS export).
        #[arg(long, default_value = "fast")]
        store: String,
    },
}

/// The benchmark world: the default one with instant transitions, so that rows measure
/// the emulator and the driver, not the configured sleeps.
pub fn bench_world() -> World {
    let mut world = World::default_world();
    world.delays = Delays {
        create: Duration::ZERO,
        extend: Duration::ZERO,
        delete: Duration::ZERO,
    };
    for t in &mut world.volume_types {
        t.delays = None;
    }
    // The create rows make tens of thousands of 1 GiB volumes; a pool that fills up
    // would turn the row into a count of scheduler failures.
    for pool in world.backends.iter_mut().flat_map(|b| b.pools.iter_mut()) {
        pool.total_capacity_gb = 1 << 40;
    }
    world
}

/// A glance-api.conf with stores `fast`, `old`, `new` (local) and `nfs` (the NFS
/// export) for an emulator at `base_url`.
pub fn glance_config(base_url: &str) -> String {
    let mut text = String::from(
        "[DEFAULT]\nenabled_backends = fast:cinder, old:cinder, new:cinder, nfs:cinder\n\n[glance_store]\ndefault_backend = fast\n",
    );
    for (store, vtype) in [
        ("fast", "glance-fast"),
        ("old", "glance-old"),
        ("new", "glance-new"),
        ("nfs", "glance-nfs"),
    ] {
        text.push_str(&format!(
            "\n[{store}]\ncinder_volume_type = {vtype}\ncinder_catalog_info = volumev3::publicURL\n\
             cinder_store_auth_address = {base_url}/identity/v3\ncinder_store_user_name = glance\n\
             cinder_store_password = admin\ncinder_store_project_name = service\n\
             cinder_store_user_domain_name = Default\ncinder_store_project_domain_name = Default\n\
             cinder_state_transition_timeout = 120\n"
        ));
    }
    text
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.child {
        Some(Child::ChildServe {
            data_dir,
            ready_file,
        }) => return api::child_serve(&data_dir, &ready_file),
        Some(Child::ChildDatapath {
            config,
            source,
            scratch,
            store,
        }) => return datapath::child(&config, &source, &scratch, &store),
        None => {}
    }
    let want = |row: &str| cli.only.is_empty() || cli.only.iter().any(|o| o == row);
    let mut results = serde_json::Map::new();
    let mut table: Vec<[String; 4]> = Vec::new();
    let started = std::time::Instant::now();
    if want("startup") {
        let r = api::startup(cli.quick).context("startup row")?;
        push(&mut table, &r);
        results.insert("startup".into(), r);
    }
    if want("api") {
        let r = api::throughput(cli.quick, &cli.api_ops).context("api row")?;
        push(&mut table, &r);
        results.insert("api".into(), r);
    }
    if want("datapath") {
        let r = datapath::run(cli.quick).context("data path row")?;
        push(&mut table, &r);
        results.insert("datapath".into(), r);
    }
    if want("upgrade") {
        let r = upgrade::run(cli.quick).context("upgrade row")?;
        push(&mut table, &r);
        results.insert("upgrade".into(), r);
    }
    if want("conformance") {
        let r = conformance::run(cli.quick).context("conformance row")?;
        push(&mut table, &r);
        results.insert("conformance".into(), r);
    }
    results.insert("quick".into(), json!(cli.quick));
    results.insert("total_s".into(), json!(started.elapsed().as_secs_f64()));
    print_table(&table);
    sanity(&Value::Object(results.clone()))?;
    std::fs::write(
        &cli.out,
        serde_json::to_string_pretty(&Value::Object(results))?,
    )
    .with_context(|| format!("cannot write {}", cli.out.display()))?;
    println!(
        "wrote {} ({:.1} s)",
        cli.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Each row module returns `{"rows": [[name, value, baseline, ratio], ...], ...}`.
fn push(table: &mut Vec<[String; 4]>, result: &Value) {
    for row in result["rows"].as_array().into_iter().flatten() {
        let cell = |i: usize| {
            row[i]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| row[i].to_string())
        };
        table.push([cell(0), cell(1), cell(2), cell(3)]);
    }
}

fn print_table(table: &[[String; 4]]) {
    let header = ["measure", "cinderbox", "baseline", "ratio"];
    let mut widths = header.map(str::len);
    for row in table {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: [&str; 4]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("| {} |", parts.join(" | "));
    };
    line(header);
    let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    println!("|-{}-|", dashes.join("-|-"));
    for row in table {
        line([&row[0], &row[1], &row[2], &row[3]]);
    }
}

/// The smoke check: every figure is a finite, non-negative number and no load cell saw
/// an error. Never a timing threshold.
fn sanity(v: &Value) -> anyhow::Result<()> {
    match v {
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            anyhow::ensure!(f.is_finite() && f >= 0.0, "not a sane figure: {n}");
        }
        Value::Object(m) => {
            if let Some(e) = m.get("errors").and_then(Value::as_u64) {
                anyhow::ensure!(e == 0, "{e} request errors in {}", Value::Object(m.clone()));
            }
            for x in m.values() {
                sanity(x)?;
            }
        }
        Value::Array(a) => a.iter().try_for_each(sanity)?,
        _ => {}
    }
    Ok(())
}
