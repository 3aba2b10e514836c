//! `driver_volume_type: nfs`: Cinder's NFS (remotefs) connection_info, checked once, and the
//! connector that opens the volume file in userspace (default) or through a kernel mount.
//!
//! The keys are those Cinder's remotefs drivers answer (`export` `host:/path`, `name` the
//! volume file, `options` the share's mount options, `format`, `encrypted`, `access_mode`),
//! flattened into `connection_info` as the attachments API returns it.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::nfs_client::NfsFile;
use super::nfs_mount::MountedShare;
use super::{AccessMode, Connector, VolumeIo};
use crate::config::{CinderOptions, NfsMode};
use crate::error::DriverError;

/// The portmapper port a real NFS server answers on when `options` name no ports.
const PORTMAPPER_PORT: u16 = 111;
/// Linux's default `timeo` (60 s) when `options` do not say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the NFS server is and how to reach it, from `export` and `options`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NfsShare {
    /// `host:/path` as Cinder gave it (also the key of the mount point's hash).
    pub export: String,
    pub host: String,
    pub path: String,
    /// The volume's file inside the export (`volume-<id>`).
    pub name: String,
    /// The raw `options` string (`-o a=b,c`), passed to `mount` unchanged.
    pub options: Option<String>,
    /// `port=` / `mountport=` from the options; `None` asks the portmapper.
    pub nfs_port: Option<u16>,
    pub mount_port: Option<u16>,
    /// `timeo=` (deciseconds) from the options: the budget of one RPC.
    pub timeout: Duration,
    /// `vers=` / `nfsvers=` from the options, if given.
    pub version: Option<String>,
    /// False with `noresvport`: connect from any source port, even as root (servers
    /// exporting `secure`, the default, want a port below 1024, which needs root).
    pub resvport: bool,
}

impl NfsShare {
    /// The label errors use: `host:/path/name`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.export.trim_end_matches('/'), self.name)
    }

    /// `<cinder_mount_point_base>/<sha256(export)>`, where upstream mounts the share.
    pub fn mount_point(&self, base: &std::path::Path) -> PathBuf {
        base.join(hex(&Sha256::digest(self.export.as_bytes())))
    }

    /// The server's address: the host resolved, with the NFS port or the portmapper's.
    pub fn resolve(&self) -> std::io::Result<IpAddr> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(ip);
        }
        (self.host.as_str(), PORTMAPPER_PORT)
            .to_socket_addrs()?
            .map(|a: SocketAddr| a.ip())
            .next()
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("NFS server host '{}' has no address", self.host),
                )
            })
    }

    pub fn portmapper_port(&self) -> u16 {
        PORTMAPPER_PORT
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn refuse(message: String) -> DriverError {
    DriverError::UnsupportedConnector {
        driver_volume_type: "nfs".into(),
        message,
    }
}

fn text<'a>(info: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    info.get(key)
        .or_else(|| info.get("data").and_then(|d| d.get(key)))
        .and_then(Value::as_str)
}

/// `host:/path`, `[v6]:/path`.
fn split_export(export: &str) -> Option<(String, String)> {
    let (host, path) = if let Some(rest) = export.strip_prefix('[') {
        let (host, rest) = rest.split_once(']')?;
        (host, rest.strip_prefix(':')?)
    } else {
        export.split_once(':')?
    };
    (!host.is_empty() && path.starts_with('/')).then(|| (host.to_string(), path.to_string()))
}

struct MountOptions {
    nfs_port: Option<u16>,
    mount_port: Option<u16>,
    timeout: Duration,
    version: Option<String>,
    resvport: bool,
}

/// Reads `port`, `mountport`, `timeo` and the version from mount options such as
/// `-o vers=3,port=2049`; every other option is the kernel's business.
fn parse_options(raw: &str) -> Result<MountOptions, String> {
    let mut nfs_port = None;
    let mut mount_port = None;
    let mut timeout = DEFAULT_TIMEOUT;
    let mut version = None;
    let mut resvport = true;
    let words: Vec<&str> = raw.split_whitespace().collect();
    let mut i = 0;
    // bounded by the word count: every pass advances i
    while i < words.len() {
        let list = match words[i] {
            "-o" => {
                i += 1;
                words.get(i).copied().unwrap_or("")
            }
            w => w.strip_prefix("-o").unwrap_or(""),
        };
        i += 1;
        for item in list.split(',').filter(|s| !s.is_empty()) {
            let (key, value) = item.split_once('=').unwrap_or((item, ""));
            let number = || {
                value
                    .parse::<u32>()
                    .map_err(|_| format!("mount option '{item}' is not a number"))
            };
            match key {
                "port" => nfs_port = Some(port_of(item, number()?)?),
                "mountport" => mount_port = Some(port_of(item, number()?)?),
                "timeo" => timeout = Duration::from_millis(u64::from(number()?.max(1)) * 100),
                "vers" | "nfsvers" => version = Some(value.to_string()),
                "resvport" => resvport = true,
                "noresvport" => resvport = false,
                _ => {}
            }
        }
    }
    Ok(MountOptions {
        nfs_port,
        mount_port,
        timeout,
        version,
        resvport,
    })
}

fn port_of(item: &str, n: u32) -> Result<u16, String> {
    u16::try_from(n)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("mount option '{item}' is not a port"))
}

/// Checks an `nfs` connection_info as upstream does (qcow2 and encrypted volumes are
/// refused) and reads the share.
pub fn parse(info: &Map<String, Value>) -> Result<NfsShare, DriverError> {
    if info.get("encrypted").and_then(Value::as_bool) == Some(true) {
        return Err(refuse(
            "encrypted volumes on Cinder NFS are not supported by the cinder store (upstream refuses them too); use a volume type without encryption".into(),
        ));
    }
    match text(info, "format").unwrap_or("raw") {
        "raw" => {}
        format => {
            return Err(refuse(format!(
                "{format} volumes on Cinder NFS are not supported by the cinder store (upstream refuses qcow2 too); set nfs_qcow2_volumes = False for this backend"
            )))
        }
    }
    let export =
        text(info, "export").ok_or_else(|| refuse("connection_info has no export".into()))?;
    let (host, path) = split_export(export)
        .ok_or_else(|| refuse(format!("export '{export}' is not of the form host:/path")))?;
    let name = text(info, "name").ok_or_else(|| refuse("connection_info has no name".into()))?;
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(refuse(format!(
            "volume file name '{name}' is not a plain file name"
        )));
    }
    let options = text(info, "options").map(str::to_string);
    let parsed = parse_options(options.as_deref().unwrap_or(""))
        .map_err(|m| refuse(format!("export '{export}': {m}")))?;
    Ok(NfsShare {
        export: export.to_string(),
        host,
        path,
        name: name.to_string(),
        options,
        nfs_port: parsed.nfs_port,
        mount_port: parsed.mount_port,
        timeout: parsed.timeout,
        version: parsed.version,
        resvport: parsed.resvport,
    })
}

/// The NFS connector: the share, and how this host reaches it.
pub struct NfsConnector {
    share: NfsShare,
    mode: NfsMode,
    mount_point_base: PathBuf,
    mounted: std::sync::Mutex<Option<MountedShare>>,
}

impl NfsConnector {
    pub fn new(info: &Map<String, Value>, options: &CinderOptions) -> Result<Self, DriverError> {
        let share = parse(info)?;
        if let (NfsMode::Userspace, Some(v)) = (options.nfs_connector, &share.version) {
            if !v.starts_with('3') {
                return Err(refuse(format!(
                    "export '{}' asks for NFS version {v}; the userspace NFS client speaks NFSv3 only (set cinder_nfs_connector = mount to use the kernel client)",
                    share.export
                )));
            }
        }
        Ok(Self {
            share,
            mode: options.nfs_connector,
            mount_point_base: options.mount_point_base.clone(),
            mounted: std::sync::Mutex::new(None),
        })
    }

    fn io_error(&self, source: std::io::Error) -> DriverError {
        DriverError::Io {
            path: format!("nfs://{}", self.share.label()),
            source,
        }
    }
}

impl Connector for NfsConnector {
    fn open(&self, mode: AccessMode) -> Result<Box<dyn VolumeIo>, DriverError> {
        match self.mode {
            NfsMode::Userspace => NfsFile::open(&self.share, mode)
                .map(|f| Box::new(f) as Box<dyn VolumeIo>)
                .map_err(|e| self.io_error(e)),
            NfsMode::Mount => {
                let mounted = MountedShare::mount(&self.share, &self.mount_point_base)?;
                let file = super::open_local(&mounted.file_path(&self.share), mode)?;
                *self.mounted.lock().unwrap_or_else(|p| p.into_inner()) = Some(mounted);
                Ok(Box::new(file))
            }
        }
    }

    /// The server grew the file; the next GETATTR (userspace) or stat (kernel) sees it.
    fn extend(&self) -> Result<(), DriverError> {
        Ok(())
    }

    fn disconnect(&self) -> Result<(), DriverError> {
        let mounted = self
            .mounted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match mounted {
            Some(m) => m.unmount(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn share(info: Value) -> Result<NfsShare, String> {
        parse(info.as_object().expect("object")).map_err(|e| e.to_string())
    }

    #[test]
    fn cinder_shape_parses() {
        let s = share(
            json!({"driver_volume_type": "nfs", "export": "10.0.0.5:/srv/cinder",
            "name": "volume-1", "options": "-o vers=3,port=2050,mountport=2051,timeo=15,noresvport",
            "format": "raw", "access_mode": "rw", "encrypted": false}),
        )
        .expect("parses");
        assert_eq!(
            (s.host.as_str(), s.path.as_str()),
            ("10.0.0.5", "/srv/cinder")
        );
        assert_eq!((s.nfs_port, s.mount_port), (Some(2050), Some(2051)));
        assert_eq!(s.timeout, Duration::from_millis(1500));
        assert_eq!(s.label(), "10.0.0.5:/srv/cinder/volume-1");
        let v6 = share(json!({"export": "[::1]:/e", "name": "v", "data": {}})).expect("v6");
        assert_eq!(
            (v6.host.as_str(), v6.nfs_port, v6.timeout),
            ("::1", None, DEFAULT_TIMEOUT)
        );
        // upstream: <base>/<sha256(export)>
        assert_eq!(
            s.mount_point(std::path::Path::new("/m")),
            PathBuf::from("/m/183a54a6fd389b921c3e5c81c6d27b1e1c9eadf3d794d005d128e7fe35bcf5d2")
        );
        assert_eq!(s.version.as_deref(), Some("3"));
        assert!(!s.resvport && v6.resvport);
    }

    #[test]
    fn refusals_name_the_problem() {
        let cases = [
            (json!({"export": "h:/e", "name": "v", "format": "qcow2"}),
             "unsupported connection type 'nfs': qcow2 volumes on Cinder NFS are not supported by the cinder store (upstream refuses qcow2 too); set nfs_qcow2_volumes = False for this backend"),
            (json!({"export": "h:/e", "name": "v", "encrypted": true}),
             "unsupported connection type 'nfs': encrypted volumes on Cinder NFS are not supported by the cinder store (upstream refuses them too); use a volume type without encryption"),
            (json!({"name": "v"}), "unsupported connection type 'nfs': connection_info has no export"),
            (json!({"export": "h/e", "name": "v"}), "unsupported connection type 'nfs': export 'h/e' is not of the form host:/path"),
            (json!({"export": "h:/e"}), "unsupported connection type 'nfs': connection_info has no name"),
            (json!({"export": "h:/e", "name": "../x"}), "unsupported connection type 'nfs': volume file name '../x' is not a plain file name"),
            (json!({"export": "h:/e", "name": "v", "options": "-o port=99999"}),
             "unsupported connection type 'nfs': export 'h:/e': mount option 'port=99999' is not a port"),
        ];
        for (info, expected) in cases {
            assert_eq!(share(info.clone()), Err(expected.to_string()), "{info}");
        }
    }
}
