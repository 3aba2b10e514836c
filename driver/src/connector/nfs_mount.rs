//! `cinder_nfs_connector = mount`: the kernel NFS client, as upstream does it. The share is
//! mounted at `<cinder_mount_point_base>/<sha256(export)>` with the share's `options`,
//! unless something already mounted it there (then it is used and left mounted).
//!
//! Needs root (or a sudo-less mount helper) and the kernel's NFS client, so it is NOT
//! exercised by the test suite; it is kept to two commands, `mount` and `umount`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::nfs::NfsShare;
use crate::error::DriverError;

/// A share mounted (or found mounted) on this host.
pub struct MountedShare {
    mount_point: PathBuf,
    /// True when this process mounted it, so it unmounts it again.
    owned: bool,
}

fn failed(what: &str, detail: String) -> DriverError {
    DriverError::UnsupportedConnector {
        driver_volume_type: "nfs".into(),
        message: format!("{what}: {detail}; cinder_nfs_connector = mount needs root and the kernel NFS client (the default, userspace, needs neither)"),
    }
}

/// Whether `path` is a mount point now (`/proc/self/mountinfo`, field 5).
fn is_mounted(path: &Path) -> bool {
    let wanted = path.to_string_lossy();
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|t| {
            t.lines()
                .any(|l| l.split(' ').nth(4) == Some(wanted.as_ref()))
        })
        .unwrap_or(false)
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command.output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} ({})",
            String::from_utf8_lossy(&out.stderr).trim(),
            out.status
        ))
    }
}

impl MountedShare {
    pub fn mount(share: &NfsShare, base: &Path) -> Result<Self, DriverError> {
        let mount_point = share.mount_point(base);
        if is_mounted(&mount_point) {
            return Ok(Self {
                mount_point,
                owned: false,
            });
        }
        std::fs::create_dir_all(&mount_point).map_err(|source| DriverError::Io {
            path: mount_point.display().to_string(),
            source,
        })?;
        let mut command = Command::new("mount");
        command.args(["-t", "nfs"]);
        if let Some(options) = &share.options {
            command.args(options.split_whitespace());
        }
        command.arg(&share.export).arg(&mount_point);
        run(&mut command).map_err(|e| {
            failed(
                &format!("mounting {} at {}", share.export, mount_point.display()),
                e,
            )
        })?;
        Ok(Self {
            mount_point,
            owned: true,
        })
    }

    pub fn file_path(&self, share: &NfsShare) -> PathBuf {
        self.mount_point.join(&share.name)
    }

    pub fn unmount(self) -> Result<(), DriverError> {
        if !self.owned {
            return Ok(());
        }
        run(Command::new("umount").arg(&self.mount_point))
            .map_err(|e| failed(&format!("unmounting {}", self.mount_point.display()), e))
    }
}
