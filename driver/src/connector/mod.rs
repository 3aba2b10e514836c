//! Turning an attachment's `connection_info` into an open volume, one `Connector` per
//! transport, chosen from `driver_volume_type` (`local`, `nfs`; anything else is refused).

pub mod nfs;
pub mod nfs_client;
pub mod nfs_mount;

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::config::CinderOptions;
use crate::error::DriverError;

/// Attachment mode as Cinder spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessMode {
    ReadOnly,
    ReadWrite,
}

impl AccessMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessMode::ReadOnly => "ro",
            AccessMode::ReadWrite => "rw",
        }
    }
}

/// An open volume: a local file or device, or a file on an NFS server.
pub trait VolumeIo: Read + Write + Seek + Send {
    /// Makes every write durable (fsync; NFS COMMIT).
    fn sync(&mut self) -> std::io::Result<()>;
}

impl VolumeIo for File {
    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_all()
    }
}

/// A transport that makes an attached volume readable or writable on this host.
pub trait Connector: Send {
    /// Opens the volume. Writing never truncates: bytes already written stay.
    fn open(&self, mode: AccessMode) -> Result<Box<dyn VolumeIo>, DriverError>;
    /// Makes a grown volume's new size visible after an online extend.
    fn extend(&self) -> Result<(), DriverError>;
    /// Undoes whatever `open` set up on the host (nothing for `local`).
    fn disconnect(&self) -> Result<(), DriverError>;
}

/// `driver_volume_type: local`: `device_path` is a file or block device on this host.
pub struct LocalConnector {
    device_path: PathBuf,
}

/// Opens an existing file or device, never creating or truncating it.
pub(crate) fn open_local(path: &Path, mode: AccessMode) -> Result<File, DriverError> {
    let mut options = OpenOptions::new();
    match mode {
        AccessMode::ReadOnly => options.read(true),
        AccessMode::ReadWrite => options.write(true).truncate(false).create(false),
    };
    options.open(path).map_err(|source| DriverError::Io {
        path: path.display().to_string(),
        source,
    })
}

impl Connector for LocalConnector {
    fn open(&self, mode: AccessMode) -> Result<Box<dyn VolumeIo>, DriverError> {
        Ok(Box::new(open_local(&self.device_path, mode)?))
    }

    fn extend(&self) -> Result<(), DriverError> {
        Ok(())
    }

    fn disconnect(&self) -> Result<(), DriverError> {
        Ok(())
    }
}

/// The host description sent with `PUT /attachments/{id}` (os-brick's connector properties).
pub fn host_connector(options: &CinderOptions, mode: AccessMode) -> Value {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "cinderbox".to_string());
    json!({
        "platform": std::env::consts::ARCH,
        "os_type": std::env::consts::OS,
        "ip": "127.0.0.1",
        "host": host,
        "multipath": options.use_multipath,
        "enforce_multipath": options.enforce_multipath,
        "do_local_attach": false,
        "mountpoint": "glance_store",
        "mode": mode.as_str(),
    })
}

/// Chooses the connector for `connection_info.driver_volume_type`.
pub fn connector_for(
    info: &Map<String, Value>,
    options: &CinderOptions,
) -> Result<Box<dyn Connector>, DriverError> {
    let kind = info
        .get("driver_volume_type")
        .and_then(Value::as_str)
        .unwrap_or("");
    match kind {
        "local" => {
            let path = info
                .get("device_path")
                .or_else(|| info.get("data").and_then(|d| d.get("device_path")))
                .and_then(Value::as_str)
                .ok_or_else(|| DriverError::UnsupportedConnector {
                    driver_volume_type: kind.into(),
                    message: "connection_info has no device_path".into(),
                })?;
            Ok(Box::new(LocalConnector {
                device_path: PathBuf::from(path),
            }))
        }
        "nfs" => Ok(Box::new(nfs::NfsConnector::new(info, options)?)),
        "" => Err(DriverError::UnsupportedConnector {
            driver_volume_type: "(none)".into(),
            message: "connection_info has no driver_volume_type; check the Cinder volume driver".into(),
        }),
        other => Err(DriverError::UnsupportedConnector {
            driver_volume_type: other.into(),
            message: "only 'local' and 'nfs' are supported; check the Cinder volume driver of this volume type".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, SeekFrom, Write};

    use super::*;

    fn options() -> CinderOptions {
        CinderOptions::default()
    }

    fn check(info: Value, expected: Result<(), &str>) {
        let info = info.as_object().cloned().expect("object");
        let got = connector_for(&info, &options())
            .map(drop)
            .map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(str::to_string), "{info:?}");
    }

    #[test]
    fn connector_choice() {
        check(
            json!({"driver_volume_type": "local", "device_path": "/dev/null"}),
            Ok(()),
        );
        check(
            json!({"driver_volume_type": "local", "data": {"device_path": "/dev/null"}}),
            Ok(()),
        );
        check(
            json!({"driver_volume_type": "local"}),
            Err("unsupported connection type 'local': connection_info has no device_path"),
        );
        check(
            json!({"driver_volume_type": "iscsi", "target_iqn": "x"}),
            Err("unsupported connection type 'iscsi': only 'local' and 'nfs' are supported; check the Cinder volume driver of this volume type"),
        );
        check(
            json!({"driver_volume_type": "nfs", "export": "h:/s", "name": "volume-1"}),
            Ok(()),
        );
        check(
            json!({"driver_volume_type": "nfs", "export": "h:/s"}),
            Err("unsupported connection type 'nfs': connection_info has no name"),
        );
        check(
            json!({}),
            Err("unsupported connection type '(none)': connection_info has no driver_volume_type; check the Cinder volume driver"),
        );
    }

    #[test]
    fn local_write_never_truncates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("volume");
        std::fs::write(&path, b"0123456789").expect("write");
        let connector = LocalConnector {
            device_path: path.clone(),
        };
        let mut file = connector.open(AccessMode::ReadWrite).expect("open rw");
        file.seek(SeekFrom::Start(4)).expect("seek");
        file.write_all(b"ab").expect("write");
        drop(file);
        let mut text = String::new();
        connector
            .open(AccessMode::ReadOnly)
            .expect("open ro")
            .read_to_string(&mut text)
            .expect("read");
        assert_eq!(text, "0123ab6789");
        let missing = LocalConnector {
            device_path: dir.path().join("nope"),
        };
        assert!(matches!(
            missing.open(AccessMode::ReadWrite),
            Err(DriverError::Io { .. })
        ));
    }

    #[test]
    fn host_connector_names_glance_store() {
        let c = host_connector(&options(), AccessMode::ReadOnly);
        assert_eq!(c["mountpoint"], "glance_store");
        assert_eq!(c["mode"], "ro");
        assert_eq!(c["multipath"], false);
    }
}
