//! Rows 1 and 2: emulator start-to-ready (vs spawning a trivial process) and API
//! throughput/latency at 1, 8 and 64 clients (vs a bare axum hello-world).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde_json::{json, Value};

use crate::stats::{median, ms, percentile, ratio};
use cinderbox_emulator::testing::Emulator;

pub fn token_body(user: &str, password: &str, project: &str) -> Value {
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}
    }})
}

/// Child mode: serve the default world until killed, through the emulator's public
/// `testing::Emulator` (the same start-up path as the binary: open, recover, serve).
pub fn child_serve(data_dir: &Path, ready_file: &Path) -> anyhow::Result<()> {
    let emu = Emulator::start(data_dir)?;
    std::fs::write(ready_file, &emu.base_url)?;
    loop {
        std::thread::park();
    }
}

/// Row 1: process spawn → first successful token request, median of N runs.
pub fn startup(quick: bool) -> anyhow::Result<Value> {
    let runs = if quick { 5 } else { 21 };
    let exe = std::env::current_exe()?;
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let mut ready = Vec::new();
    let mut trivial = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::tempdir()?;
        let ready_file = dir.path().join("ready");
        let t0 = Instant::now();
        let mut child = Command::new(&exe)
            .args(["child-serve", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--ready-file")
            .arg(&ready_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let deadline = t0 + Duration::from_secs(20);
        let result = (|| -> anyhow::Result<Duration> {
            loop {
                if Instant::now() > deadline {
                    bail!("emulator not ready within 20 s");
                }
                if let Ok(base) = std::fs::read_to_string(&ready_file) {
                    if !base.is_empty() {
                        let r = http
                            .post(format!("{}/identity/v3/auth/tokens", base.trim()))
                            .json(&token_body("admin", "admin", "admin"))
                            .send();
                        if r.is_ok_and(|r| r.status() == 201) {
                            return Ok(t0.elapsed());
                        }
                    }
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        })();
        let _ = child.kill();
        let _ = child.wait();
        ready.push(result?);
        let t0 = Instant::now();
        Command::new("true").status().context("spawning `true`")?;
        trivial.push(t0.elapsed());
    }
    let (r, t) = (median(&mut ready), median(&mut trivial));
    Ok(json!({
        "runs": runs,
        "start_to_ready_ms": ms(r),
        "trivial_process_ms": ms(t),
        "rows": [["start to ready (median ms)", format!("{:.1}", ms(r)), format!("{:.1} (spawn `true`)", ms(t)), format!("{:.1}x", ratio(ms(r), ms(t)))]],
    }))
}

/// A bare axum hello-world on its own runtime: the ceiling of our HTTP stack.
struct HelloWorld {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HelloWorld {
    fn start() -> anyhow::Result<HelloWorld> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("hello-worker")
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                tx.send(listener.local_addr().expect("addr")).expect("send");
                let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        let addr = rx.recv()?;
        Ok(HelloWorld {
            url: format!("http://{addr}/"),
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for HelloWorld {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[derive(Clone, Copy)]
enum Op {
    Hello,
    TokenIssue,
    VolumeShow,
    VolumeList,
    CreateToAvailable,
}

impl Op {
    /// The name `--api-ops` knows it by.
    fn flag(self) -> &'static str {
        match self {
            Op::Hello => "hello",
            Op::TokenIssue => "token",
            Op::VolumeShow => "show",
            Op::VolumeList => "list",
            Op::CreateToAvailable => "create",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Op::Hello => "hello-world",
            Op::TokenIssue => "token issue",
            Op::VolumeShow => "volume show",
            Op::VolumeList => "volume list (1000)",
            Op::CreateToAvailable => "volume create→available",
        }
    }
}

struct Target {
    hello: String,
    base: String,
    cinder: String,
    token: String,
    volume: String,
}

/// One request (or for create→available, the whole create-then-poll cycle).
async fn once(http: &reqwest::Client, t: &Target, op: Op) -> anyhow::Result<()> {
    let ok = |s: reqwest::StatusCode| s.is_success();
    match op {
        Op::Hello => {
            let r = http.get(&t.hello).send().await?;
            anyhow::ensure!(ok(r.status()));
            r.bytes().await?;
        }
        Op::TokenIssue => {
            let r = http
                .post(format!("{}/identity/v3/auth/tokens", t.base))
                .json(&token_body("glance", "admin", "service"))
                .send()
                .await?;
            anyhow::ensure!(r.status() == 201);
            r.bytes().await?;
        }
        Op::VolumeShow | Op::VolumeList => {
            let url = match op {
                Op::VolumeShow => format!("{}/volumes/{}", t.cinder, t.volume),
                _ => format!("{}/volumes", t.cinder),
            };
            let r = http
                .get(url)
                .header("X-Auth-Token", &t.token)
                .send()
                .await?;
            anyhow::ensure!(ok(r.status()), "status {}", r.status());
            r.bytes().await?;
        }
        Op::CreateToAvailable => {
            let r = http
                .post(format!("{}/volumes", t.cinder))
                .header("X-Auth-Token", &t.token)
                .json(&json!({"volume": {"size": 1, "volume_type": "glance-fast"}}))
                .send()
                .await?;
            anyhow::ensure!(r.status() == 202, "create {}", r.status());
            let v: Value = r.json().await?;
            let id = v["volume"]["id"].as_str().unwrap_or_default().to_string();
            for _ in 0..2000 {
                let r = http
                    .get(format!("{}/volumes/{id}", t.cinder))
                    .header("X-Auth-Token", &t.token)
                    .send()
                    .await?;
                let v: Value = r.json().await?;
                if v["volume"]["status"] == "available" {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            anyhow::bail!("volume {id} never became available");
        }
    }
    Ok(())
}

/// What `clients` loops of one operation did in one timed slice.
struct Slice {
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: u64,
    /// The first failure's message, so an error count comes with its cause.
    first_error: Option<String>,
}

struct Cell {
    rps: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
    first_error: Option<String>,
}

impl Cell {
    /// Requests/s over every slice's time together, percentiles over all latencies.
    fn of(slices: Vec<Slice>) -> Cell {
        let mut all = Vec::new();
        let (mut elapsed, mut errors, mut first_error) = (Duration::ZERO, 0, None);
        for s in slices {
            all.extend(s.latencies);
            elapsed += s.elapsed;
            errors += s.errors;
            first_error = first_error.or(s.first_error);
        }
        Cell {
            rps: all.len() as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE),
            p50: percentile(&mut all, 50.0),
            p99: percentile(&mut all, 99.0),
            errors,
            first_error,
        }
    }
}

/// Slices per measured cell: the baseline and the operation alternate, so a change in
/// the machine's speed during the run (a noisy neighbour) reaches both alike.
const ROUNDS: u32 = 3;

/// `op` and the hello-world measured in `ROUNDS` alternating slices of `dur / ROUNDS`.
fn paired(
    rt: &tokio::runtime::Runtime,
    target: &Arc<Target>,
    op: Op,
    clients: usize,
    dur: Duration,
) -> (Cell, Cell) {
    let (mut base, mut cell) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        base.push(load(rt, target, Op::Hello, clients, dur / ROUNDS));
        cell.push(load(rt, target, op, clients, dur / ROUNDS));
    }
    (Cell::of(base), Cell::of(cell))
}

/// `clients` concurrent loops of `op` for `dur`.
fn load(
    rt: &tokio::runtime::Runtime,
    target: &Arc<Target>,
    op: Op,
    clients: usize,
    dur: Duration,
) -> Slice {
    rt.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(128)
            .build()
            .expect("client");
        // Warm up (connections, caches) for a tenth of the run; not measured.
        let warm_end = Instant::now() + dur / 10;
        let mut warm = Vec::new();
        for _ in 0..clients {
            let (http, t) = (http.clone(), target.clone());
            warm.push(tokio::spawn(async move {
                while Instant::now() < warm_end {
                    let _ = once(&http, &t, op).await;
                }
            }));
        }
        for w in warm {
            let _ = w.await;
        }
        let end = Instant::now() + dur;
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (http, t) = (http.clone(), target.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0u64;
                let mut first = None;
                while Instant::now() < end {
                    let t0 = Instant::now();
                    match once(&http, &t, op).await {
                        Ok(()) => lat.push(t0.elapsed()),
                        Err(e) => {
                            errors += 1;
                            first.get_or_insert_with(|| format!("{e:#}"));
                        }
                    }
                }
                (lat, errors, first)
            }));
        }
        let started = Instant::now();
        let mut latencies = Vec::new();
        let mut errors = 0;
        let mut first_error = None;
        for t in tasks {
            let (lat, e, first) = t.await.expect("load task");
            latencies.extend(lat);
            errors += e;
            first_error = first_error.or(first);
        }
        Slice {
            latencies,
            elapsed: started.elapsed().max(dur),
            errors,
            first_error,
        }
    })
}

/// Row 2: requests/s and p50/p99 per operation and concurrency.
pub fn throughput(quick: bool, only_ops: &[String]) -> anyhow::Result<Value> {
    let dur = if quick {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(3)
    };
    let concurrency: &[usize] = &[1, 8, 64];
    let dir = tempfile::tempdir()?;
    let emu = Emulator::start_with(dir.path(), crate::bench_world(), "127.0.0.1:0".parse()?)?;
    let hello = HelloWorld::start()?;
    let http = reqwest::blocking::Client::new();
    let r = http
        .post(format!("{}/identity/v3/auth/tokens", emu.base_url))
        .json(&token_body("glance", "admin", "service"))
        .send()?;
    let token = r.headers()["x-subject-token"].to_str()?.to_string();
    let body: Value = r.json()?;
    let pid = body["token"]["project"]["id"]
        .as_str()
        .context("project id")?
        .to_string();
    let cinder = format!("{}/volume/v3/{pid}", emu.base_url);
    // Named runtimes, so a profile tells the client from the servers.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-client")
        .enable_all()
        .build()?;
    // 1000 volumes for the list row (the first one is shown by the show row).
    let seed = Arc::new(Target {
        hello: hello.url.clone(),
        base: emu.base_url.clone(),
        cinder: cinder.clone(),
        token: token.clone(),
        volume: String::new(),
    });
    rt.block_on(async {
        let http = reqwest::Client::new();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (http, t) = (http.clone(), seed.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..125 {
                    once(&http, &t, Op::CreateToAvailable).await?;
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        anyhow::Ok(())
    })?;
    let list: Value = http
        .get(format!("{cinder}/volumes"))
        .header("X-Auth-Token", &token)
        .send()?
        .json()?;
    let volume = list["volumes"][0]["id"]
        .as_str()
        .context("a volume")?
        .to_string();
    let target = Arc::new(Target {
        hello: hello.url.clone(),
        base: emu.base_url.clone(),
        cinder,
        token,
        volume,
    });

    let mut cells = Vec::new();
    let mut rows = Vec::new();
    for &c in concurrency {
        for op in [
            Op::TokenIssue,
            Op::VolumeShow,
            Op::VolumeList,
            Op::CreateToAvailable,
        ] {
            if !only_ops.is_empty() && !only_ops.iter().any(|o| o == op.flag()) {
                continue;
            }
            // The list grows while create runs; measure list before create at each level.
            let (base, cell) = paired(&rt, &target, op, c, dur);
            cells.push(json!({"op": "hello-world", "beside": op.name(), "clients": c, "rps": base.rps, "p50_ms": ms(base.p50), "p99_ms": ms(base.p99), "errors": base.errors}));
            cells.push(json!({"op": op.name(), "clients": c, "rps": cell.rps, "p50_ms": ms(cell.p50), "p99_ms": ms(cell.p99), "errors": cell.errors, "first_error": cell.first_error}));
            rows.push(json!([
                format!("{} @{c} (req/s; p50/p99 ms)", op.name()),
                format!(
                    "{:.0}; {:.2}/{:.2}{}",
                    cell.rps,
                    ms(cell.p50),
                    ms(cell.p99),
                    if cell.errors > 0 {
                        format!(" ({} errors)", cell.errors)
                    } else {
                        String::new()
                    }
                ),
                format!(
                    "{:.0}; {:.2}/{:.2} hello",
                    base.rps,
                    ms(base.p50),
                    ms(base.p99)
                ),
                format!(
                    "{:.2}x rps, {:.1}x p99",
                    ratio(cell.rps, base.rps),
                    ratio(ms(cell.p99), ms(base.p99))
                ),
            ]));
        }
    }
    Ok(json!({ "duration_s": dur.as_secs_f64(), "cells": cells, "rows": rows }))
}
