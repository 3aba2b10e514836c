//! cinderbox-emulator: Keystone v3 and Cinder v3 on one local listener, devstack
//! layout (`/identity`, `/volume`), with file-backed volumes and durable state.

pub mod body;
pub mod cinder;
pub mod config;
pub mod edge;
pub mod error;
pub mod faults;
pub mod identity;
pub mod keystone;
pub mod nfs;
pub mod reqlog;
pub mod testing;
pub mod timefmt;
pub mod topology;
pub mod volume;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use config::World;
use edge::Edge;
use keystone::token::TokenSigner;
use reqlog::RequestLog;
use volume::domain::Domain;
use volume::files::VolumeFiles;
use volume::store::Store;

/// The composition root: the domain, the fault rules that implement its hooks, and
/// the HTTP edge over both. `world`, `store` and `files` are handles to the domain's
/// own parts, for tests and tools. Nothing below this module sees `App`.
pub struct App {
    pub world: Arc<World>,
    pub store: Store,
    pub files: VolumeFiles,
    pub domain: Domain,
    pub faults: Arc<faults::Faults>,
    pub edge: Arc<Edge>,
    /// `http://host:port`, as clients reach us.
    pub base_url: String,
    pub data_dir: PathBuf,
}

impl App {
    pub fn identity_url(&self) -> String {
        edge::identity_url(&self.base_url)
    }

    pub fn volume_url(&self) -> String {
        format!("{}/volume", self.base_url)
    }

    /// Opens the data dir: state, token key, volume files; seeds the world's volume
    /// types on first start.
    pub fn open(world: World, data_dir: &Path, base_url: String) -> anyhow::Result<App> {
        App::open_with_scenario(world, data_dir, base_url, None)
    }

    /// Like [`App::open`], with the fault rules of a scenario file in force.
    pub fn open_with_scenario(
        world: World,
        data_dir: &Path,
        base_url: String,
        scenario: Option<faults::Scenario>,
    ) -> anyhow::Result<App> {
        std::fs::create_dir_all(data_dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let store = Store::open(data_dir)?;
        let world = Arc::new(world);
        let files = VolumeFiles::open(data_dir)?;
        let faults = Arc::new(faults::Faults::new(
            scenario,
            store.clone(),
            world.clone(),
            edge::identity_url(&base_url),
        ));
        let domain = Domain {
            world: world.clone(),
            store: store.clone(),
            files: files.clone(),
            hooks: faults.clone(),
        };
        domain.seed()?;
        let timeline = Arc::new(edge::timeline::Timeline::default());
        store.observe(timeline.clone());
        let edge = Arc::new(Edge {
            domain: domain.clone(),
            tokens: TokenSigner::open(data_dir)?,
            faults: faults.clone(),
            log: Arc::new(RequestLog::default()),
            timeline,
            dashboard_open: Default::default(),
            base_url: base_url.clone(),
            nfs: Default::default(),
            auth_cache: Default::default(),
        });
        Ok(App {
            world,
            store,
            files,
            domain,
            faults,
            edge,
            base_url,
            data_dir: data_dir.to_path_buf(),
        })
    }
}

impl App {
    /// Starts the NFS export of the world's NFS backends on `listen` (port 0 picks
    /// one); attachments of NFS-backed volumes name it from then on.
    pub async fn start_nfs(&self, listen: SocketAddr) -> std::io::Result<nfs::NfsEndpoint> {
        if let Some(running) = self.edge.nfs.get() {
            return Ok(*running);
        }
        let endpoint = nfs::start(self.domain.clone(), listen).await?;
        let _ = self.edge.nfs.set(endpoint);
        Ok(endpoint)
    }
}

/// The whole HTTP surface: Keystone, Cinder, the control API under `/_cinderbox/`, and
/// the request log around them.
pub fn router(app: Arc<App>) -> Router {
    let edge = app.edge.clone();
    keystone::router()
        .merge(cinder::router())
        .merge(edge::control::router())
        .merge(edge::dashboard::router())
        .fallback(cinder::not_found)
        .layer(axum::middleware::from_fn_with_state(
            edge.clone(),
            edge::token_hook::token_create,
        ))
        .layer(axum::middleware::from_fn_with_state(
            edge.log.clone(),
            reqlog::record,
        ))
        .with_state(edge)
}

/// The base URL clients should use for a listener bound to `addr`.
pub fn base_url_for(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    format!("http://{ip}:{}", addr.port())
}

/// Serves until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    listener: TcpListener,
    world: World,
    data_dir: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let base_url = base_url_for(listener.local_addr()?);
    let app = Arc::new(App::open(world, data_dir, base_url)?);
    serve_app(listener, app, shutdown).await
}

/// Like [`serve`], for an [`App`] that is already open.
pub async fn serve_app(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    volume::jobs::recover(&app.domain).await?;
    let faults_app = app.clone();
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        // Injected hangs would otherwise hold graceful shutdown for minutes.
        faults_app.faults.release_waits();
    })
    .await?;
    Ok(())
}
