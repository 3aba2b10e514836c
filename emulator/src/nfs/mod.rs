//! The NFS export of NFS-backed volumes, as Cinder's NFS driver leaves them on a share:
//! an in-process NFSv3 + MOUNT server (`nfs3_server`) over [`fs::VolumeFs`], behind a
//! relay ([`proxy`]) that lets fault rules act on each call by operation name. One
//! port serves every NFS backend of the world as `host:/<backend name>`.

pub mod fs;
pub mod proxy;

use std::net::SocketAddr;
use std::sync::Arc;

use nfs3_server::tcp::{NFSTcp, NFSTcpListener};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::topology::nfs_backend;
use crate::volume::domain::Domain;

/// Where clients reach the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NfsEndpoint {
    pub addr: SocketAddr,
}

/// Starts the export: the NFS server on a private loopback port, and the relay on
/// `listen` (port 0 picks one). Returns the relay's address.
pub async fn start(domain: Domain, listen: SocketAddr) -> std::io::Result<NfsEndpoint> {
    let pending = fs::Pending::default();
    let server = NFSTcpListener::bind(
        "127.0.0.1:0",
        fs::VolumeFs::new(domain.clone(), pending.clone()),
    )
    .await?;
    let inner = SocketAddr::from(([127, 0, 0, 1], server.get_listen_port()));
    tokio::spawn(async move {
        if let Err(e) = server.handle_forever().await {
            tracing::error!(error = %e, "NFS server stopped");
        }
    });
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip([127, 0, 0, 1].into());
    }
    tokio::spawn(proxy::serve(listener, inner, domain.hooks.clone(), pending));
    Ok(NfsEndpoint { addr })
}

/// Flips `bytes` bytes of `buf` at positions drawn from `seed` (a READ's bit rot).
pub fn rot(buf: &mut [u8], bytes: u32, seed: u64) {
    if buf.is_empty() {
        return;
    }
    let mut x = seed | 1;
    for _ in 0..bytes {
        // xorshift64: reproducible positions without a shared RNG
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = usize::try_from(x % buf.len() as u64).unwrap_or(0);
        buf[i] ^= 0x01 << (x % 8);
    }
}

/// The `data` of an NFS connection as Cinder's NFS driver answers it (`export`, `name`,
/// `options`, `format`), plus the keys Cinder adds to every connection; `None` when the
/// volume is not on an NFS backend.
pub fn connection_data(
    domain: &Domain,
    endpoint: Option<NfsEndpoint>,
    volume_id: Uuid,
    access_mode: &str,
) -> Option<Map<String, Value>> {
    let backend = domain.read(|s| {
        let v = s.volumes.get(&volume_id)?;
        nfs_backend(&domain.world.backends, v.host.as_deref()).cloned()
    })?;
    let addr = endpoint.map(|e| e.addr)?;
    let host = match addr {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    };
    let port = addr.port();
    let mut m = Map::new();
    m.insert("export".into(), json!(format!("{host}:/{}", backend.name)));
    m.insert("name".into(), json!(format!("volume-{volume_id}")));
    m.insert(
        "options".into(),
        json!(format!(
            "-o vers=3,proto=tcp,port={port},mountport={port},nolock,noresvport"
        )),
    );
    m.insert("format".into(), json!("raw"));
    m.insert("access_mode".into(), json!(access_mode));
    m.insert("qos_specs".into(), Value::Null);
    m.insert("encrypted".into(), json!(false));
    m.insert("cacheable".into(), json!(false));
    Some(m)
}

/// The shared handle the edge keeps to the running export.
pub type Slot = Arc<std::sync::OnceLock<NfsEndpoint>>;
