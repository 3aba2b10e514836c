//! Volume data: one sparse file per volume, `volumes/volume-<uuid>` under the data dir,
//! and one per snapshot beside them (`snapshot-<uuid>`), 0600 in a 0700 directory.
//! Paths are built only from server-made UUIDs.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::filecopy::{self, CopyKind};

pub const GIB: u64 = 1 << 30;

#[derive(Debug, Clone)]
pub struct VolumeFiles {
    dir: PathBuf,
}

impl VolumeFiles {
    pub fn open(data_dir: &Path) -> io::Result<VolumeFiles> {
        let dir = data_dir.join("volumes");
        fs::create_dir_all(&dir)?;
        restrict(&dir, 0o700)?;
        Ok(VolumeFiles { dir })
    }

    /// The file backing a volume. A `Uuid` cannot contain `/` or `..`.
    pub fn path(&self, id: Uuid) -> PathBuf {
        self.dir.join(format!("volume-{id}"))
    }

    /// Creates (or keeps) the file at exactly `size_gb` GiB, sparse.
    pub fn create(&self, id: Uuid, size_gb: u64) -> io::Result<()> {
        let path = self.path(id);
        let f = open_rw(&path)?;
        f.set_len(size_gb * GIB)?;
        f.sync_all()
    }

    /// Grows the file to `size_gb` GiB without touching existing bytes.
    pub fn extend(&self, id: Uuid, size_gb: u64) -> io::Result<()> {
        let f = open_rw(&self.path(id))?;
        if f.metadata()?.len() < size_gb * GIB {
            f.set_len(size_gb * GIB)?;
        }
        f.sync_all()
    }

    /// Empties the file (a fault: the bytes a volume held are lost); `extend` then
    /// grows it back, zeroed.
    pub fn discard(&self, id: Uuid) -> io::Result<()> {
        let f = open_rw(&self.path(id))?;
        f.set_len(0)?;
        f.sync_all()
    }

    pub fn remove(&self, id: Uuid) -> io::Result<()> {
        match fs::remove_file(self.path(id)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    pub fn exists(&self, id: Uuid) -> bool {
        self.path(id).is_file()
    }

    /// Ids of every volume file on disk (for orphan sweeps and checks).
    pub fn list(&self) -> io::Result<Vec<Uuid>> {
        self.list_prefixed("volume-")
    }

    fn list_prefixed(&self, prefix: &str) -> io::Result<Vec<Uuid>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            if let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_prefix(prefix))
                .and_then(|n| Uuid::parse_str(n).ok())
            {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// The point-in-time copy a snapshot keeps, beside the volume files.
    pub fn snapshot_path(&self, id: Uuid) -> PathBuf {
        self.dir.join(format!("snapshot-{id}"))
    }

    /// Ids of every snapshot file on disk.
    pub fn list_snapshots(&self) -> io::Result<Vec<Uuid>> {
        self.list_prefixed("snapshot-")
    }

    /// Copies the volume's file as it is now into the snapshot's (see `filecopy`).
    pub fn snapshot(&self, volume_id: Uuid, snapshot_id: Uuid) -> io::Result<CopyKind> {
        let src = self.path(volume_id);
        let len = fs::metadata(&src)?.len();
        filecopy::copy(&src, &self.snapshot_path(snapshot_id), len)
    }

    /// Makes a new volume's file from a snapshot's or another volume's, `size_gb` GiB.
    pub fn create_from(&self, id: Uuid, source: &Path, size_gb: u64) -> io::Result<CopyKind> {
        filecopy::copy(source, &self.path(id), size_gb * GIB)
    }

    pub fn remove_snapshot(&self, id: Uuid) -> io::Result<()> {
        match fs::remove_file(self.snapshot_path(id)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Removes copies a killed process left half-written (`*.part`).
    pub fn remove_partials(&self) -> io::Result<usize> {
        let mut n = 0;
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            if entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.ends_with(".part"))
            {
                fs::remove_file(entry.path())?;
                n += 1;
            }
        }
        Ok(n)
    }
}

fn open_rw(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom, Write};

    #[test]
    fn files_are_sparse_private_and_keep_bytes_when_extended() {
        let dir = tempfile::tempdir().unwrap();
        let files = VolumeFiles::open(dir.path()).unwrap();
        let id = Uuid::new_v4();
        files.create(id, 1).unwrap();
        let path = files.path(id);
        assert_eq!(fs::metadata(&path).unwrap().len(), GIB);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let meta = fs::metadata(&path).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
            assert!(meta.blocks() * 512 < GIB, "file is not sparse");
            let dmode = fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(dmode & 0o777, 0o700);
        }
        let mut f = OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(GIB - 3)).unwrap();
        f.write_all(b"abc").unwrap();
        drop(f);
        files.extend(id, 2).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), 2 * GIB);
        let mut f = File::open(&path).unwrap();
        f.seek(SeekFrom::Start(GIB - 3)).unwrap();
        let mut buf = [0u8; 3];
        f.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"abc");
        assert_eq!(files.list().unwrap(), vec![id]);
        files.remove(id).unwrap();
        files.remove(id).unwrap();
        assert!(!files.exists(id));
    }
}
