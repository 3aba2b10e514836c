//! The exported file system: `/` holds one directory per NFS backend of the world, and
//! each holds the `volume-<uuid>` files of that backend's volumes (those whose type's
//! `volume_backend_name` names it). Reads need a live attachment; writes need a live
//! read-write one (`NFS3ERR_ROFS` under read-only attachments, `NFS3ERR_ACCES` with
//! none); nothing can be created, removed or renamed.

use std::collections::HashMap;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::{Arc, Mutex};

use nfs3_server::nfs3_types::nfs3::{
    createverf3, fattr3, fileid3, filename3, ftype3, nfspath3, nfsstat3, nfstime3, sattr3,
    specdata3, Nfs3Option,
};
use nfs3_server::vfs::{
    DirEntryPlus, FileHandle, NextResult, NfsFileSystem, NfsReadFileSystem, ReadDirPlusIterator,
};
use uuid::Uuid;

use crate::topology::{nfs_backend, Backend, Protocol};
use crate::volume::domain::Domain;
use crate::volume::hooks::NfsOutcome;

const ROOT: u8 = 0;
const SHARE: u8 = 1;
const VOLUME: u8 = 2;

/// `[kind, share index (2 bytes), volume uuid (16 bytes)]`, shorter for the root and
/// the shares. The proxy reads the volume back out of an NFS file handle with
/// [`volume_in_handle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handle(Vec<u8>);

impl Handle {
    fn root() -> Self {
        Handle(vec![ROOT])
    }
    fn share(i: u16) -> Self {
        let [a, b] = i.to_be_bytes();
        Handle(vec![SHARE, a, b])
    }
    fn volume(i: u16, id: Uuid) -> Self {
        let mut v = Self::share(i).0;
        v[0] = VOLUME;
        v.extend_from_slice(id.as_bytes());
        Handle(v)
    }
    fn share_index(&self) -> Option<u16> {
        (self.0.len() >= 3).then(|| u16::from_be_bytes([self.0[1], self.0[2]]))
    }
    fn volume_id(&self) -> Option<Uuid> {
        (self.0.len() == 19 && self.0[0] == VOLUME)
            .then(|| Uuid::from_slice(&self.0[3..]).ok())
            .flatten()
    }
    fn fileid(&self) -> fileid3 {
        match (self.0[0], self.volume_id()) {
            (VOLUME, Some(id)) => id.as_u64_pair().0 | (1 << 63),
            (SHARE, _) => 2 + u64::from(self.share_index().unwrap_or(0)),
            _ => 1,
        }
    }
}

impl FileHandle for Handle {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let ok = matches!(
            (bytes.first(), bytes.len()),
            (Some(&ROOT), 1) | (Some(&SHARE), 3) | (Some(&VOLUME), 19)
        );
        ok.then(|| Handle(bytes.to_vec()))
    }
}

/// The volume an NFS file handle (`generation(8) ++ Handle`) names.
pub fn volume_in_handle(fh: &[u8]) -> Option<Uuid> {
    Handle::from_bytes(fh.get(8..)?)?.volume_id()
}

/// What the proxy decided for the next call on a volume (`Fail`, `Corrupt`).
pub type Pending = Arc<Mutex<HashMap<Uuid, NfsOutcome>>>;

pub struct VolumeFs {
    domain: Domain,
    shares: Vec<Backend>,
    pending: Pending,
}

/// How a client may use a volume now, from its attachments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    None,
    ReadOnly,
    ReadWrite,
}

fn time(secs: i64, nanos: i64) -> nfstime3 {
    nfstime3 {
        seconds: u32::try_from(secs).unwrap_or(0),
        nseconds: u32::try_from(nanos).unwrap_or(0),
    }
}

fn io_status(e: &std::io::Error) -> nfsstat3 {
    match e.raw_os_error() {
        Some(28) => nfsstat3::NFS3ERR_NOSPC,
        Some(27) => nfsstat3::NFS3ERR_FBIG,
        Some(2) => nfsstat3::NFS3ERR_STALE,
        _ => nfsstat3::NFS3ERR_IO,
    }
}

impl VolumeFs {
    pub fn new(domain: Domain, pending: Pending) -> Self {
        let shares = domain
            .world
            .backends
            .iter()
            .filter(|b| b.protocol() == Protocol::Nfs)
            .cloned()
            .collect();
        VolumeFs {
            domain,
            shares,
            pending,
        }
    }

    /// Whether volume `id` lives on share `i`.
    fn on_share(&self, i: u16, id: Uuid) -> bool {
        let share = self.shares.get(usize::from(i));
        self.domain.read(|s| {
            let Some(v) = s.volumes.get(&id) else {
                return false;
            };
            let backend = nfs_backend(&self.domain.world.backends, v.host.as_deref());
            backend.is_some() && backend.map(|b| &b.name) == share.map(|b| &b.name)
        })
    }

    fn access(&self, id: Uuid) -> Access {
        self.domain.read(|s| {
            let live: Vec<_> = s
                .attachments_of(id)
                .filter(|a| a.connector.is_some())
                .collect();
            if live.iter().any(|a| a.attach_mode.as_deref() == Some("rw")) {
                Access::ReadWrite
            } else if live.is_empty() {
                Access::None
            } else {
                Access::ReadOnly
            }
        })
    }

    fn file(&self, h: &Handle) -> Result<(Uuid, std::path::PathBuf), nfsstat3> {
        let id = h.volume_id().ok_or(nfsstat3::NFS3ERR_ISDIR)?;
        let i = h.share_index().ok_or(nfsstat3::NFS3ERR_BADHANDLE)?;
        if !self.on_share(i, id) {
            return Err(nfsstat3::NFS3ERR_STALE);
        }
        Ok((id, self.domain.files.path(id)))
    }

    fn take_pending(&self, id: Uuid) -> Option<NfsOutcome> {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
    }

    fn dir_attr(&self, h: &Handle) -> fattr3 {
        fattr3 {
            type_: ftype3::NF3DIR,
            mode: 0o755,
            nlink: 2,
            uid: 0,
            gid: 0,
            size: 4096,
            used: 4096,
            rdev: specdata3::default(),
            fsid: 1,
            fileid: h.fileid(),
            atime: time(0, 0),
            mtime: time(0, 0),
            ctime: time(0, 0),
        }
    }

    fn file_attr(&self, h: &Handle) -> Result<fattr3, nfsstat3> {
        let (_, path) = self.file(h)?;
        let m = std::fs::metadata(&path).map_err(|e| io_status(&e))?;
        Ok(fattr3 {
            type_: ftype3::NF3REG,
            mode: 0o660,
            nlink: 1,
            uid: m.uid(),
            gid: m.gid(),
            size: m.len(),
            used: m.blocks() * 512,
            rdev: specdata3::default(),
            fsid: 1,
            fileid: h.fileid(),
            atime: time(m.atime(), m.atime_nsec()),
            mtime: time(m.mtime(), m.mtime_nsec()),
            ctime: time(m.ctime(), m.ctime_nsec()),
        })
    }
}

/// The entries of a directory listing, already collected.
pub struct Listing(std::vec::IntoIter<DirEntryPlus<Handle>>);

impl ReadDirPlusIterator<Handle> for Listing {
    async fn next(&mut self) -> NextResult<DirEntryPlus<Handle>> {
        match self.0.next() {
            Some(e) => NextResult::Ok(e),
            None => NextResult::Eof,
        }
    }
}

impl NfsReadFileSystem for VolumeFs {
    type Handle = Handle;

    fn root_dir(&self) -> Handle {
        Handle::root()
    }

    async fn lookup(&self, dir: &Handle, name: &filename3<'_>) -> Result<Handle, nfsstat3> {
        let name = std::str::from_utf8(name.0.as_ref()).map_err(|_| nfsstat3::NFS3ERR_NOENT)?;
        match dir.0[0] {
            ROOT => self
                .shares
                .iter()
                .position(|b| b.name == name)
                .and_then(|i| u16::try_from(i).ok())
                .map(Handle::share)
                .ok_or(nfsstat3::NFS3ERR_NOENT),
            SHARE => {
                let i = dir.share_index().ok_or(nfsstat3::NFS3ERR_BADHANDLE)?;
                let id = name
                    .strip_prefix("volume-")
                    .and_then(|u| Uuid::parse_str(u).ok())
                    .filter(|id| name == format!("volume-{id}"))
                    .ok_or(nfsstat3::NFS3ERR_NOENT)?;
                if self.on_share(i, id) && self.domain.files.exists(id) {
                    Ok(Handle::volume(i, id))
                } else {
                    Err(nfsstat3::NFS3ERR_NOENT)
                }
            }
            _ => Err(nfsstat3::NFS3ERR_NOTDIR),
        }
    }

    async fn getattr(&self, h: &Handle) -> Result<fattr3, nfsstat3> {
        match h.0[0] {
            VOLUME => self.file_attr(h),
            _ => Ok(self.dir_attr(h)),
        }
    }

    async fn read(&self, h: &Handle, offset: u64, count: u32) -> Result<(Vec<u8>, bool), nfsstat3> {
        let (id, path) = self.file(h)?;
        if self.access(id) == Access::None {
            return Err(nfsstat3::NFS3ERR_ACCES);
        }
        let pending = self.take_pending(id);
        if pending == Some(NfsOutcome::Fail) {
            return Err(nfsstat3::NFS3ERR_IO);
        }
        let file = std::fs::File::open(&path).map_err(|e| io_status(&e))?;
        let len = file.metadata().map_err(|e| io_status(&e))?.len();
        let want = u64::from(count).min(len.saturating_sub(offset));
        let mut buf = vec![0u8; usize::try_from(want).unwrap_or(0)];
        file.read_exact_at(&mut buf, offset)
            .map_err(|e| io_status(&e))?;
        if let Some(NfsOutcome::Corrupt { bytes, seed }) = pending {
            super::rot(&mut buf, bytes, seed);
        }
        let eof = offset + want >= len;
        Ok((buf, eof))
    }

    async fn readdirplus(
        &self,
        dir: &Handle,
        cookie: u64,
    ) -> Result<impl ReadDirPlusIterator<Handle>, nfsstat3> {
        let entries: Vec<(Handle, String)> = match dir.0[0] {
            ROOT => (0..self.shares.len())
                .filter_map(|i| u16::try_from(i).ok())
                .map(|i| (Handle::share(i), self.shares[usize::from(i)].name.clone()))
                .collect(),
            SHARE => {
                let i = dir.share_index().ok_or(nfsstat3::NFS3ERR_BADHANDLE)?;
                let ids: Vec<Uuid> = self.domain.read(|s| s.volumes.keys().copied().collect());
                ids.into_iter()
                    .filter(|id| self.on_share(i, *id) && self.domain.files.exists(*id))
                    .map(|id| (Handle::volume(i, id), format!("volume-{id}")))
                    .collect()
            }
            _ => return Err(nfsstat3::NFS3ERR_NOTDIR),
        };
        let mut out = Vec::new();
        for (n, (h, name)) in entries.into_iter().enumerate() {
            let pos = n as u64 + 1;
            if pos <= cookie {
                continue;
            }
            out.push(DirEntryPlus {
                fileid: h.fileid(),
                name: name.into_bytes().into(),
                cookie: pos,
                name_attributes: self.getattr(&h).await.ok(),
                name_handle: Some(h),
            });
        }
        Ok(Listing(out.into_iter()))
    }

    async fn readlink(&self, _h: &Handle) -> Result<nfspath3<'_>, nfsstat3> {
        Err(nfsstat3::NFS3ERR_INVAL)
    }
}

impl NfsFileSystem for VolumeFs {
    /// Only a size change (never below what the volume holds: no truncation by a
    /// client); other attributes are accepted and left as they are.
    async fn setattr(&self, h: &Handle, attr: sattr3) -> Result<fattr3, nfsstat3> {
        if let Nfs3Option::Some(size) = attr.size {
            let (id, path) = self.file(h)?;
            match self.access(id) {
                Access::ReadWrite => {}
                Access::ReadOnly => return Err(nfsstat3::NFS3ERR_ROFS),
                Access::None => return Err(nfsstat3::NFS3ERR_ACCES),
            }
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| io_status(&e))?;
            file.set_len(size).map_err(|e| io_status(&e))?;
        }
        self.getattr(h).await
    }

    async fn write(&self, h: &Handle, offset: u64, data: &[u8]) -> Result<fattr3, nfsstat3> {
        let (id, path) = self.file(h)?;
        match self.access(id) {
            Access::ReadWrite => {}
            Access::ReadOnly => return Err(nfsstat3::NFS3ERR_ROFS),
            Access::None => return Err(nfsstat3::NFS3ERR_ACCES),
        }
        if self.take_pending(id) == Some(NfsOutcome::Fail) {
            return Err(nfsstat3::NFS3ERR_IO);
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| io_status(&e))?;
        file.write_all_at(data, offset).map_err(|e| io_status(&e))?;
        self.file_attr(h)
    }

    async fn create(
        &self,
        _dir: &Handle,
        _name: &filename3<'_>,
        _attr: sattr3,
    ) -> Result<(Handle, fattr3), nfsstat3> {
        Err(nfsstat3::NFS3ERR_ACCES)
    }

    async fn create_exclusive(
        &self,
        _dir: &Handle,
        _name: &filename3<'_>,
        _verf: createverf3,
    ) -> Result<Handle, nfsstat3> {
        Err(nfsstat3::NFS3ERR_ACCES)
    }

    async fn mkdir(
        &self,
        _dir: &Handle,
        _name: &filename3<'_>,
    ) -> Result<(Handle, fattr3), nfsstat3> {
        Err(nfsstat3::NFS3ERR_ACCES)
    }

    async fn remove(&self, _dir: &Handle, _name: &filename3<'_>) -> Result<(), nfsstat3> {
        Err(nfsstat3::NFS3ERR_ACCES)
    }

    async fn rename<'a>(
        &self,
        _from_dir: &Handle,
        _from: &filename3<'a>,
        _to_dir: &Handle,
        _to: &filename3<'a>,
    ) -> Result<(), nfsstat3> {
        Err(nfsstat3::NFS3ERR_ACCES)
    }

    async fn symlink<'a>(
        &self,
        _dir: &Handle,
        _name: &filename3<'a>,
        _target: &nfspath3<'a>,
        _attr: &sattr3,
    ) -> Result<(Handle, fattr3), nfsstat3> {
        Err(nfsstat3::NFS3ERR_ACCES)
    }
}
