//! Row 3: upload and download through the driver into the emulator, against plain
//! streaming copy of the same bytes on the same disk and against md5+sha256 alone (the
//! CPU ceiling); the driver runs in a child process so its peak RSS is its own. The same
//! transfers over the emulator's NFS export (store `nfs`, userspace NFSv3 client) are
//! rows of their own, as ratios of the local rows of the same run.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context as _};
use md5::Digest as _;
use serde_json::{json, Value};

use crate::stats::{mb_per_s, peak_rss_mib, ratio};
use cinderbox_driver::config::GlanceConfig;
use cinderbox_driver::{AddRequest, Stores};
use cinderbox_emulator::testing::Emulator;

const CHUNK: usize = 4 << 20;
const MIB: u64 = 1 << 20;

/// Writes `size` deterministic pseudo-random bytes (xorshift), chunk by chunk.
fn make_source(path: &Path, size: u64) -> anyhow::Result<()> {
    let mut f = File::create(path)?;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = vec![0u8; CHUNK];
    let mut left = size;
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(CHUNK as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.sync_all()?;
    Ok(())
}

/// Plain streaming copy in the driver's chunk size: the I/O ceiling.
fn plain_copy(src: &Path, dst: &Path) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    let mut r = File::open(src)?;
    let mut w = File::create(dst)?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
    drop(w);
    Ok(mb_per_s(total, t0.elapsed()))
}

/// md5 + sha256 over the file: what the driver must compute while uploading.
fn hashing_only(src: &Path) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    let mut r = File::open(src)?;
    let mut buf = vec![0u8; CHUNK];
    let mut md5 = md5::Md5::new();
    let mut sha = sha2::Sha256::new();
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        md5.update(&buf[..n]);
        sha.update(&buf[..n]);
        total += n as u64;
    }
    std::hint::black_box((md5.finalize(), sha.finalize()));
    Ok(mb_per_s(total, t0.elapsed()))
}

/// Child mode: upload `source`, download it again, verify, delete; print JSON.
pub fn child(config: &Path, source: &Path, scratch: &Path, store: &str) -> anyhow::Result<()> {
    let size = std::fs::metadata(source)?.len();
    let stores = Stores::configure(GlanceConfig::load(config)?)?;
    let image_id = uuid::Uuid::new_v4().to_string();
    let t0 = Instant::now();
    let added = stores.add(
        Some(store),
        &AddRequest::new(&image_id, Some(size)),
        &mut File::open(source)?,
    )?;
    let upload_s = t0.elapsed();
    let out = scratch.join("downloaded");
    // Timed: the driver's read path and the write to disk only, like the plain copy.
    let t0 = Instant::now();
    let mut reader = stores.get(&added.location, 0, None)?;
    let mut w = File::create(&out)?;
    let total = std::io::copy(&mut reader, &mut w)?;
    drop(w);
    reader.finish()?;
    let download_s = t0.elapsed();
    // Untimed: the bytes read back are the bytes uploaded.
    let mut md5 = md5::Md5::new();
    let mut r = File::open(&out)?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        md5.update(&buf[..n]);
    }
    let got = cinderbox_driver::hashing::hex(&md5.finalize());
    if total != size || got != added.checksum {
        bail!(
            "downloaded {total} bytes with md5 {got}, uploaded {size} with {}",
            added.checksum
        );
    }
    stores.delete(&added.location)?;
    std::fs::remove_file(&out)?;
    println!(
        "{}",
        json!({
            "upload_mb_s": mb_per_s(size, upload_s),
            "download_mb_s": mb_per_s(size, download_s),
            "peak_rss_mib": peak_rss_mib(),
        })
    );
    Ok(())
}

pub fn run(quick: bool) -> anyhow::Result<Value> {
    let sizes: &[u64] = if quick {
        &[64 * MIB]
    } else {
        &[64 * MIB, 1024 * MIB, 4096 * MIB]
    };
    let dir = tempfile::tempdir()?;
    let emu = Emulator::start_with(
        &dir.path().join("emu"),
        crate::bench_world(),
        "127.0.0.1:0".parse()?,
    )?;
    let config = dir.path().join("glance-api.conf");
    std::fs::write(&config, crate::glance_config(&emu.base_url))?;
    let exe = std::env::current_exe()?;
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    for &size in sizes {
        let src = dir.path().join("source.img");
        make_source(&src, size)?;
        let copy = plain_copy(&src, &dir.path().join("copy.img"))?;
        std::fs::remove_file(dir.path().join("copy.img"))?;
        let hash = hashing_only(&src)?;
        let driver = |store: &str| -> anyhow::Result<Value> {
            let output = Command::new(&exe)
                .arg("child-datapath")
                .arg("--config")
                .arg(&config)
                .arg("--source")
                .arg(&src)
                .arg("--scratch")
                .arg(dir.path())
                .arg("--store")
                .arg(store)
                .output()
                .context("running the driver child")?;
            if !output.status.success() {
                bail!(
                    "driver child ({store}) failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            serde_json::from_slice(&output.stdout).context("driver child output")
        };
        let r = driver("fast")?;
        let nfs = driver("nfs")?;
        std::fs::remove_file(&src)?;
        let up = r["upload_mb_s"].as_f64().unwrap_or(0.0);
        let down = r["download_mb_s"].as_f64().unwrap_or(0.0);
        let rss = r["peak_rss_mib"].as_f64().unwrap_or(0.0);
        let label = if size >= 1024 * MIB {
            format!("{} GiB", size / (1024 * MIB))
        } else {
            format!("{} MiB", size / MIB)
        };
        let nfs_up = nfs["upload_mb_s"].as_f64().unwrap_or(0.0);
        let nfs_down = nfs["download_mb_s"].as_f64().unwrap_or(0.0);
        let nfs_rss = nfs["peak_rss_mib"].as_f64().unwrap_or(0.0);
        cells.push(json!({"size_bytes": size, "upload_mb_s": up, "download_mb_s": down, "plain_copy_mb_s": copy, "md5_sha256_mb_s": hash, "driver_peak_rss_mib": rss,
            "nfs_upload_mb_s": nfs_up, "nfs_download_mb_s": nfs_down, "nfs_driver_peak_rss_mib": nfs_rss}));
        rows.push(json!([
            format!("NFS download {label} (MB/s, userspace NFSv3)"),
            format!("{nfs_down:.0}"),
            format!("{down:.0} local download"),
            format!("{:.2}x", ratio(nfs_down, down))
        ]));
        rows.push(json!([
            format!("NFS upload {label} (MB/s, md5+sha256)"),
            format!("{nfs_up:.0}"),
            format!("{up:.0} local upload"),
            format!("{:.2}x", ratio(nfs_up, up))
        ]));
        rows.push(json!([
            format!("driver peak RSS over NFS {label} (MiB)"),
            format!("{nfs_rss:.1}"),
            "64 MiB target".to_string(),
            format!("{:.2}x", ratio(nfs_rss, 64.0))
        ]));
        rows.push(json!([
            format!("download {label} (MB/s, no hashing)"),
            format!("{down:.0}"),
            format!("{copy:.0} plain copy"),
            format!("{:.2}x", ratio(down, copy))
        ]));
        rows.push(json!([
            format!("upload {label} (MB/s, md5+sha256)"),
            format!("{up:.0}"),
            format!("{:.0} ceiling: min(md5+sha256, copy)", hash.min(copy)),
            format!("{:.2}x", ratio(up, hash.min(copy)))
        ]));
        rows.push(json!([
            format!("driver peak RSS {label} (MiB)"),
            format!("{rss:.1}"),
            "64 MiB target".to_string(),
            format!("{:.2}x", ratio(rss, 64.0))
        ]));
    }
    Ok(json!({ "cells": cells, "rows": rows }))
}
