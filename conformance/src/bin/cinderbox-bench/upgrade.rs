//! Row 4: lazy upgrade of legacy `cinder://<id>` locations across three volume types:
//! one by one (as Glance does it, per image per store) against the driver's batch form.
//! Wall time is measured directly; API calls are counted in a second pass through a
//! counting proxy (pointed at by `cinder_endpoint_template`), so the proxy's own cost
//! never shows in the timings.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use serde_json::{json, Value};

use crate::stats::ratio;
use cinderbox_driver::config::GlanceConfig;
use cinderbox_driver::Stores;
use cinderbox_emulator::testing::Emulator;
use cinderbox_emulator::volume::{ops, status::VolumeEvent};

/// Makes `n` available volumes in the service project, a third each of `glance-old`,
/// `glance-new` and `__DEFAULT__` (which no store claims), straight through the domain
/// layer: this is set-up, not what is measured.
fn seed_volumes(emu: &Emulator, n: usize) -> anyhow::Result<Vec<String>> {
    let world = emu.app.world.clone();
    let service = world
        .projects
        .iter()
        .find(|p| p.name == "service")
        .context("service project")?;
    let glance = world
        .users
        .iter()
        .find(|u| u.name == "glance")
        .context("glance user")?;
    let caller = ops::Caller {
        user_id: glance.id.clone(),
        project_id: service.id.clone(),
        is_admin: true,
    };
    let mut ids = Vec::with_capacity(n);
    for batch in (0..n).collect::<Vec<_>>().chunks(500) {
        let (world, caller, batch) = (world.clone(), caller.clone(), batch.to_vec());
        let made = emu.app.store.write_blocking(move |tx| {
            let mut made = Vec::new();
            for i in batch {
                let vtype = ["glance-old", "glance-new", "__DEFAULT__"][i % 3];
                let mut v = ops::create(
                    tx,
                    &world,
                    &caller,
                    ops::CreateVolume {
                        size_gb: 1,
                        name: Some(format!("legacy-{i}")),
                        description: None,
                        volume_type: Some(vtype.into()),
                        metadata: Default::default(),
                        availability_zone: None,
                        bootable: false,
                        group_id: None,
                    },
                )?;
                ops::apply(&mut v, VolumeEvent::CreateSucceeded)
                    .map_err(|e| cinderbox_emulator::error::ApiError::Internal(e.to_string()))?;
                made.push(v.id.to_string());
                tx.put_volume(v);
            }
            Ok(made)
        })?;
        ids.extend(made);
    }
    Ok(ids)
}

/// An HTTP proxy that counts the requests it forwards to `upstream`.
struct CountingProxy {
    url: String,
    count: Arc<AtomicU64>,
    _rt: tokio::runtime::Runtime,
}

impl CountingProxy {
    fn start(upstream: String) -> anyhow::Result<CountingProxy> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let count = Arc::new(AtomicU64::new(0));
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let url = format!("http://{}", listener.local_addr()?);
        let (c, client) = (count.clone(), reqwest::Client::new());
        let handler = move |req: axum::extract::Request| {
            let (c, client, upstream) = (c.clone(), client.clone(), upstream.clone());
            async move {
                c.fetch_add(1, Ordering::Relaxed);
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 16 << 20)
                    .await
                    .unwrap_or_default();
                let path = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let mut rb = client
                    .request(parts.method.clone(), format!("{upstream}{path}"))
                    .body(body);
                for (k, v) in parts.headers.iter().filter(|(k, _)| *k != "host") {
                    rb = rb.header(k, v);
                }
                match rb.send().await {
                    Ok(r) => {
                        let mut out = axum::http::Response::builder().status(r.status());
                        for (k, v) in r.headers() {
                            out = out.header(k, v);
                        }
                        out.body(axum::body::Body::from(r.bytes().await.unwrap_or_default()))
                            .expect("response")
                    }
                    Err(_) => axum::http::Response::builder()
                        .status(502)
                        .body(axum::body::Body::empty())
                        .expect("response"),
                }
            }
        };
        rt.spawn(async move {
            let _ = axum::serve(listener, axum::Router::new().fallback(handler)).await;
        });
        Ok(CountingProxy {
            url,
            count,
            _rt: rt,
        })
    }
}

/// The bench config with the Cinder endpoint forced to `cinder_base` (the proxy).
fn config(identity_base: &str, cinder_base: Option<&str>) -> anyhow::Result<GlanceConfig> {
    let mut text = crate::glance_config(identity_base);
    if let Some(c) = cinder_base {
        text = text.replace(
            "cinder_catalog_info = volumev3::publicURL\n",
            &format!("cinder_endpoint_template = {c}/volume/v3/%(project_id)s\n"),
        );
    }
    Ok(GlanceConfig::parse("bench.conf", &text)?)
}

fn one_by_one(stores: &Stores, locations: &[String]) -> anyhow::Result<(Duration, usize)> {
    let t0 = Instant::now();
    let mut upgraded = 0;
    for loc in locations {
        if stores.upgrade_location(loc)? != *loc {
            upgraded += 1;
        }
    }
    Ok((t0.elapsed(), upgraded))
}

fn batch(stores: &Stores, locations: &[String]) -> anyhow::Result<(Duration, usize)> {
    let refs: Vec<&str> = locations.iter().map(String::as_str).collect();
    let t0 = Instant::now();
    let results = stores.upgrade_locations(&refs);
    let elapsed = t0.elapsed();
    let mut upgraded = 0;
    for (r, loc) in results.into_iter().zip(locations) {
        if r? != *loc {
            upgraded += 1;
        }
    }
    Ok((elapsed, upgraded))
}

pub fn run(quick: bool) -> anyhow::Result<Value> {
    let n = if quick { 1_000 } else { 10_000 };
    let dir = tempfile::tempdir()?;
    let emu = Emulator::start_with(dir.path(), crate::bench_world(), "127.0.0.1:0".parse()?)?;
    let ids = seed_volumes(&emu, n)?;
    let locations: Vec<String> = ids.iter().map(|id| format!("cinder://{id}")).collect();
    let expected = ids.len() - ids.len() / 3;

    let direct = Stores::configure(config(&emu.base_url, None)?)?;
    let (single_t, single_n) = one_by_one(&direct, &locations)?;
    let (batch_t, batch_n) = batch(&direct, &locations)?;
    ensure!(
        single_n == batch_n,
        "one-by-one upgraded {single_n}, batch {batch_n}"
    );
    ensure!(
        batch_n >= expected.saturating_sub(1),
        "upgraded {batch_n} of the {expected} that have a store"
    );

    let proxy = CountingProxy::start(emu.base_url.clone())?;
    let counted = Stores::configure(config(&emu.base_url, Some(&proxy.url))?)?;
    let before = proxy.count.load(Ordering::Relaxed);
    one_by_one(&counted, &locations)?;
    let single_calls = proxy.count.load(Ordering::Relaxed) - before;
    let before = proxy.count.load(Ordering::Relaxed);
    batch(&counted, &locations)?;
    let batch_calls = proxy.count.load(Ordering::Relaxed) - before;

    Ok(json!({
        "images": n,
        "upgraded": batch_n,
        "one_by_one_s": single_t.as_secs_f64(),
        "batch_s": batch_t.as_secs_f64(),
        "one_by_one_api_calls": single_calls,
        "batch_api_calls": batch_calls,
        "rows": [
            [format!("upgrade {n} legacy images (s)"), format!("{:.3} batch", batch_t.as_secs_f64()), format!("{:.3} one by one", single_t.as_secs_f64()), format!("{:.3}x", ratio(batch_t.as_secs_f64(), single_t.as_secs_f64()))],
            [format!("upgrade {n} legacy images (API calls)"), format!("{batch_calls} batch"), format!("{single_calls} one by one"), format!("{:.4}x", ratio(batch_calls as f64, single_calls as f64))],
        ],
    }))
}
