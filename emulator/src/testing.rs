//! An emulator in a background thread, for tests and the conformance suite:
//! `Emulator::start(dir)` binds `127.0.0.1:0` over `dir` and returns once it serves.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::config::World;
use crate::faults::Scenario;
use crate::App;

pub struct Emulator {
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// The default world on a free port.
    pub fn start(data_dir: &Path) -> anyhow::Result<Emulator> {
        Emulator::start_with(data_dir, World::default_world(), "127.0.0.1:0".parse()?)
    }

    /// The default world with a scenario's fault rules in force.
    pub fn start_with_scenario(data_dir: &Path, scenario: Scenario) -> anyhow::Result<Emulator> {
        Emulator::start_full(
            data_dir,
            World::default_world(),
            "127.0.0.1:0".parse()?,
            Some(scenario),
        )
    }

    /// A given world on a given address (port 0 for a free one; reuse `addr` of a
    /// stopped emulator to restart it where clients expect it).
    pub fn start_with(data_dir: &Path, world: World, addr: SocketAddr) -> anyhow::Result<Emulator> {
        Emulator::start_full(data_dir, world, addr, None)
    }

    /// Everything chosen: world, address and an optional scenario.
    pub fn start_full(
        data_dir: &Path,
        world: World,
        addr: SocketAddr,
        scenario: Option<Scenario>,
    ) -> anyhow::Result<Emulator> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let dir = data_dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("cinderbox-emulator".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("emulator-worker")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow::anyhow!(e)));
                        return;
                    }
                };
                rt.block_on(async move {
                    let started = async {
                        let listener = tokio::net::TcpListener::bind(addr).await?;
                        let local = listener.local_addr()?;
                        let app = Arc::new(App::open_with_scenario(
                            world,
                            &dir,
                            crate::base_url_for(local),
                            scenario,
                        )?);
                        crate::volume::jobs::recover(&app.domain).await?;
                        app.start_nfs(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
                        anyhow::Ok((listener, local, app))
                    }
                    .await;
                    match started {
                        Ok((listener, local, app)) => {
                            let _ = ready_tx.send(Ok((local, app.clone())));
                            let router = crate::router(app.clone());
                            let _ = axum::serve(
                                listener,
                                router.into_make_service_with_connect_info::<SocketAddr>(),
                            )
                            .with_graceful_shutdown(async move {
                                let _ = stop_rx.await;
                                // Injected hangs end now instead of holding the stop.
                                app.faults.release_waits();
                            })
                            .await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
                // Dropping the runtime here also stops background jobs.
            })?;
        let (addr, app) = ready_rx
            .recv()
            .map_err(|_| anyhow::anyhow!("emulator thread died while starting"))??;
        Ok(Emulator {
            base_url: crate::base_url_for(addr),
            addr,
            data_dir: data_dir.to_path_buf(),
            app,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        })
    }

    pub fn identity_url(&self) -> String {
        format!("{}/identity/v3", self.base_url)
    }

    /// Stops serving and waits for the thread; state stays in the data dir.
    pub fn stop(mut self) {
        self.halt();
    }

    /// Stops and starts again on the same address and data dir (and scenario, with
    /// fresh counters).
    pub fn restart(self) -> anyhow::Result<Emulator> {
        let (addr, dir, world) = (self.addr, self.data_dir.clone(), (*self.app.world).clone());
        let scenario = self.app.faults.scenario().cloned();
        self.stop();
        Emulator::start_full(&dir, world, addr, scenario)
    }

    fn halt(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.halt();
    }
}
