//! Backup data, kept the way Cinder's chunked (posix) backup driver keeps it: under
//! `<data-dir>/backups/backup-<uuid>/`, the objects `backup-00001`, `backup-00002`, …
//! (each a stretch of the volume at an offset, uncompressed, with its checksum), a
//! `backup_metadata` JSON document listing them, and a `backup_sha256file` with the
//! sha256 of every 32 KiB block. A full backup stores every chunk that holds data; an
//! incremental one stores only the extents whose blocks changed since its parent. A
//! backup is written into `backup-<uuid>.partial` and renamed when complete, so a
//! directory without that suffix is a whole backup. Restore checks every object's checksum
//! (and the object list) before it writes a byte. Paths are built from UUIDs only.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// How much of the volume one object holds at most (Cinder's posix default is ~1.9
/// GB; smaller bounds memory: one chunk is read at a time).
pub const CHUNK_BYTES: usize = 8 << 20;
/// Cinder's `backup_sha_block_size_bytes`.
pub const SHA_BLOCK_BYTES: usize = 32 << 10;
/// What `export_record` names as the backup service.
pub const SERVICE: &str = "cinder.backup.drivers.posix.PosixBackupDriver";
const DRIVER_VERSION: &str = "1.0.0";
const PREFIX: &str = "backup";

/// Why writing or restoring backup data failed; the message is the backup's
/// `fail_reason` (or the restore's user message).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("Volume size increased since the last backup. Do a full backup.")]
    SizeGrew,
    #[error("The parent backup's data is missing or unreadable: {0}")]
    Parent(String),
    #[error(
        "restore_backup aborted, actual object list does not match object list stored in metadata."
    )]
    ObjectList,
    #[error("Backup object {object} is corrupt: its sha256 is {actual}, the backup metadata says {expected}.")]
    Corrupt {
        object: String,
        expected: String,
        actual: String,
    },
    #[error("Backup metadata is missing or unreadable: {0}")]
    Metadata(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> DataError {
    let what = what.into();
    move |source| DataError::Io { what, source }
}

/// One object's entry in `backup_metadata` (Cinder's keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub offset: u64,
    pub length: u64,
    pub compression: Option<String>,
    pub sha256: String,
}

/// `backup_metadata`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub version: String,
    pub backup_id: String,
    pub volume_id: String,
    pub backup_name: Option<String>,
    pub backup_description: Option<String>,
    pub created_at: String,
    /// `[{"backup-00001": {...}}, ...]`, in write order.
    pub objects: Vec<BTreeMap<String, ObjectMeta>>,
    pub parent_id: Option<String>,
    /// The volume's own metadata and bootable flag, as a JSON string (Cinder's form).
    pub volume_meta: String,
}

/// `backup_sha256file`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sha256File {
    pub backup_id: String,
    pub volume_id: String,
    pub backup_name: Option<String>,
    pub backup_description: Option<String>,
    pub created_at: String,
    pub chunk_size: usize,
    pub sha256s: Vec<String>,
}

/// What the backup's documents say about it, besides the data.
#[derive(Debug, Clone)]
pub struct Header {
    pub backup_id: Uuid,
    pub volume_id: Uuid,
    pub name: Option<String>,
    pub description: Option<String>,
    pub created_at: String,
    pub parent_id: Option<Uuid>,
    pub volume_meta: String,
}

/// The backups directory of the data dir.
#[derive(Debug, Clone)]
pub struct BackupArea {
    root: PathBuf,
}

fn sha_hex(block: &[u8]) -> String {
    hex::encode(Sha256::digest(block))
}

/// An object's checksum. Cinder's chunked driver records an `md5` per object; md5-0.10
/// is inlined into its caller and so unoptimised in debug builds (~10 MB/s), so the
/// emulator records the object's sha256 (key `sha256`), the hash its sha256 file uses.
fn object_sum(data: &[u8]) -> String {
    sha_hex(data)
}

/// Reads until `buf` is full or the file ends; returns how much was read.
fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn private_file(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

fn private_dir(path: &Path) -> io::Result<()> {
    fs::create_dir_all(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn write_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = private_file(path)?;
    f.write_all(data)?;
    f.sync_all()
}

impl BackupArea {
    /// `<data_dir>/backups`, 0700.
    pub fn open(data_dir: &Path) -> io::Result<BackupArea> {
        let root = data_dir.join("backups");
        private_dir(&root)?;
        Ok(BackupArea { root })
    }

    /// The directory of one backup's objects.
    pub fn dir(&self, storage: Uuid) -> PathBuf {
        self.root.join(format!("{PREFIX}-{storage}"))
    }

    fn partial(&self, storage: Uuid) -> PathBuf {
        self.root.join(format!("{PREFIX}-{storage}.partial"))
    }

    /// Whether a complete backup is stored under `storage`.
    pub fn has(&self, storage: Uuid) -> bool {
        self.dir(storage)
            .join(format!("{PREFIX}_metadata"))
            .is_file()
    }

    /// The object files of a stored backup (names), sorted.
    pub fn object_files(&self, storage: Uuid) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for e in fs::read_dir(self.dir(storage))? {
            let name = e?.file_name().to_string_lossy().into_owned();
            if name.starts_with(&format!("{PREFIX}-")) {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Storage ids of every complete backup on disk, and every `.partial` left over.
    pub fn list(&self) -> io::Result<(Vec<Uuid>, Vec<Uuid>)> {
        let (mut whole, mut partial) = (Vec::new(), Vec::new());
        for e in fs::read_dir(&self.root)? {
            let name = e?.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(&format!("{PREFIX}-")) else {
                continue;
            };
            match rest.strip_suffix(".partial") {
                Some(id) => partial.extend(Uuid::parse_str(id).ok()),
                None => whole.extend(Uuid::parse_str(rest).ok()),
            }
        }
        Ok((whole, partial))
    }

    /// Removes a backup's data (complete or partial); gone already is fine.
    pub fn remove(&self, storage: Uuid) -> io::Result<()> {
        for dir in [self.dir(storage), self.partial(storage)] {
            match fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    pub fn read_metadata(&self, storage: Uuid) -> Result<Metadata, DataError> {
        let path = self.dir(storage).join(format!("{PREFIX}_metadata"));
        let text = fs::read(&path).map_err(|e| DataError::Metadata(e.to_string()))?;
        serde_json::from_slice(&text).map_err(|e| DataError::Metadata(e.to_string()))
    }

    fn read_shas(&self, storage: Uuid) -> Result<Sha256File, DataError> {
        let path = self.dir(storage).join(format!("{PREFIX}_sha256file"));
        let text = fs::read(&path).map_err(|e| DataError::Parent(e.to_string()))?;
        serde_json::from_slice(&text).map_err(|e| DataError::Parent(e.to_string()))
    }

    /// Backs up the volume file `src` as `storage`: every chunk with data, or with a
    /// parent (its storage id) only the changed extents. Returns the object count.
    pub fn write(
        &self,
        storage: Uuid,
        src: &Path,
        parent: Option<Uuid>,
        header: &Header,
    ) -> Result<u64, DataError> {
        let parent_shas = match parent {
            Some(p) => {
                let f = self.read_shas(p)?;
                if f.chunk_size != SHA_BLOCK_BYTES {
                    return Err(DataError::Parent(format!(
                        "Hash block size has changed since the last backup. New hash block size: {SHA_BLOCK_BYTES}. Old hash block size: {}. Do a full backup.",
                        f.chunk_size
                    )));
                }
                Some(f.sha256s)
            }
            None => None,
        };
        let dir = self.partial(storage);
        let _ = fs::remove_dir_all(&dir);
        private_dir(&dir).map_err(io_err("create the backup directory"))?;
        let mut input = File::open(src).map_err(io_err("open the volume"))?;
        let len = input.metadata().map_err(io_err("stat the volume"))?.len();
        if let Some(p) = &parent_shas {
            if len > (p.len() * SHA_BLOCK_BYTES) as u64 {
                return Err(DataError::SizeGrew);
            }
        }
        let zeros = vec![0u8; CHUNK_BYTES];
        let zero_sha = sha_hex(&zeros[..SHA_BLOCK_BYTES]);
        let mut buf = vec![0u8; CHUNK_BYTES];
        let mut objects: Vec<BTreeMap<String, ObjectMeta>> = Vec::new();
        let mut shas: Vec<String> = Vec::new();
        let mut offset = 0u64;
        let mut put = |data: &[u8], at: u64| -> Result<(), DataError> {
            let name = format!("{PREFIX}-{:05}", objects.len() + 1);
            write_synced(&dir.join(&name), data).map_err(io_err(format!("write {name}")))?;
            let meta = ObjectMeta {
                offset: at,
                length: data.len() as u64,
                compression: None,
                sha256: object_sum(data),
            };
            objects.push(BTreeMap::from([(name, meta)]));
            Ok(())
        };
        while offset < len {
            let n = (len - offset).min(CHUNK_BYTES as u64) as usize;
            // A chunk that is all hole is zeros without reading it (SEEK_DATA).
            let has_data = super::filecopy::next_data(&input, offset, offset + n as u64)
                .map_err(io_err("seek the volume"))?
                .is_some();
            let data: &[u8] = if has_data {
                input
                    .seek(SeekFrom::Start(offset))
                    .map_err(io_err("seek the volume"))?;
                let got =
                    read_full(&mut input, &mut buf[..n]).map_err(io_err("read the volume"))?;
                &buf[..got]
            } else {
                &zeros[..n]
            };
            if data.is_empty() {
                break;
            }
            let n = data.len();
            let first = shas.len();
            for block in data.chunks(SHA_BLOCK_BYTES) {
                // Comparing with zeros is a memcmp; hashing a hole is not needed.
                shas.push(if block == &zeros[..SHA_BLOCK_BYTES] {
                    zero_sha.clone()
                } else {
                    sha_hex(block)
                });
            }
            match &parent_shas {
                None => {
                    if data != &zeros[..n] {
                        put(data, offset)?;
                    }
                }
                Some(old) => {
                    // Runs of blocks whose sha differs from the parent's.
                    let mut start: Option<usize> = None;
                    let blocks = shas.len() - first;
                    for i in 0..=blocks {
                        let changed = i < blocks && old.get(first + i) != Some(&shas[first + i]);
                        match (start, changed) {
                            (None, true) => start = Some(i),
                            (Some(s), false) => {
                                let end = (i * SHA_BLOCK_BYTES).min(n);
                                put(
                                    &data[s * SHA_BLOCK_BYTES..end],
                                    offset + (s * SHA_BLOCK_BYTES) as u64,
                                )?;
                                start = None;
                            }
                            (None, false) | (Some(_), true) => {}
                        }
                    }
                }
            }
            offset += n as u64;
        }
        let count = objects.len() as u64;
        let meta = Metadata {
            version: DRIVER_VERSION.into(),
            backup_id: header.backup_id.to_string(),
            volume_id: header.volume_id.to_string(),
            backup_name: header.name.clone(),
            backup_description: header.description.clone(),
            created_at: header.created_at.clone(),
            objects,
            parent_id: header.parent_id.map(|p| p.to_string()),
            volume_meta: header.volume_meta.clone(),
        };
        let sha_file = Sha256File {
            backup_id: header.backup_id.to_string(),
            volume_id: header.volume_id.to_string(),
            backup_name: header.name.clone(),
            backup_description: header.description.clone(),
            created_at: header.created_at.clone(),
            chunk_size: SHA_BLOCK_BYTES,
            sha256s: shas,
        };
        let doc =
            |v: serde_json::Result<Vec<u8>>| v.map_err(|e| DataError::Metadata(e.to_string()));
        write_synced(
            &dir.join(format!("{PREFIX}_sha256file")),
            &doc(serde_json::to_vec_pretty(&sha_file))?,
        )
        .map_err(io_err("write the sha256 file"))?;
        write_synced(
            &dir.join(format!("{PREFIX}_metadata")),
            &doc(serde_json::to_vec_pretty(&meta))?,
        )
        .map_err(io_err("write the metadata"))?;
        let done = self.dir(storage);
        let _ = fs::remove_dir_all(&done);
        fs::rename(&dir, &done).map_err(io_err("complete the backup directory"))?;
        File::open(&self.root)
            .and_then(|d| d.sync_all())
            .map_err(io_err("sync the backups directory"))?;
        Ok(count)
    }

    /// Checks every object of `chain` (full backup first, then each incremental)
    /// against its metadata; returns the metadata documents in chain order.
    pub fn verify(&self, chain: &[Uuid]) -> Result<Vec<Metadata>, DataError> {
        let mut metas = Vec::new();
        for storage in chain {
            let meta = self.read_metadata(*storage)?;
            let listed: Vec<&String> = {
                let mut v: Vec<&String> = meta.objects.iter().flat_map(|o| o.keys()).collect();
                v.sort();
                v
            };
            let on_disk = self
                .object_files(*storage)
                .map_err(|e| DataError::Metadata(e.to_string()))?;
            if listed.len() != on_disk.len() || listed.iter().zip(&on_disk).any(|(a, b)| *a != b) {
                return Err(DataError::ObjectList);
            }
            for (name, obj) in meta.objects.iter().flat_map(|o| o.iter()) {
                let data = fs::read(self.dir(*storage).join(name))
                    .map_err(io_err(format!("read {name}")))?;
                let actual = object_sum(&data);
                if actual != obj.sha256 || data.len() as u64 != obj.length {
                    return Err(DataError::Corrupt {
                        object: name.clone(),
                        expected: obj.sha256.clone(),
                        actual,
                    });
                }
            }
            metas.push(meta);
        }
        Ok(metas)
    }

    /// Restores `chain` (verified first) onto the volume file `dst`, which holds at
    /// least `size_bytes`. A volume that is not new has the backup's range zeroed
    /// where the full backup stored nothing (reading first, so zeros stay holes).
    pub fn restore(
        &self,
        chain: &[Uuid],
        dst: &Path,
        size_bytes: u64,
        volume_is_new: bool,
    ) -> Result<Vec<Metadata>, DataError> {
        let metas = self.verify(chain)?;
        let mut out = OpenOptions::new()
            .read(true)
            .write(true)
            .open(dst)
            .map_err(io_err("open the volume"))?;
        if !volume_is_new {
            let covered: Vec<(u64, u64)> = metas
                .first()
                .map(|m| {
                    m.objects
                        .iter()
                        .flat_map(|o| o.values())
                        .map(|o| (o.offset, o.offset + o.length))
                        .collect()
                })
                .unwrap_or_default();
            let mut buf = vec![0u8; CHUNK_BYTES];
            let zeros = vec![0u8; CHUNK_BYTES];
            let mut at = 0u64;
            while at < size_bytes {
                let end = (at + CHUNK_BYTES as u64).min(size_bytes);
                let hole = super::filecopy::next_data(&out, at, end)
                    .map_err(io_err("seek the volume"))?
                    .is_none();
                if !hole && !covered.iter().any(|(s, e)| *s <= at && end <= *e) {
                    let n = (end - at) as usize;
                    out.seek(SeekFrom::Start(at))
                        .map_err(io_err("seek the volume"))?;
                    let got =
                        read_full(&mut out, &mut buf[..n]).map_err(io_err("read the volume"))?;
                    if buf[..got] != zeros[..got] {
                        buf[..n].fill(0);
                        out.seek(SeekFrom::Start(at))
                            .map_err(io_err("seek the volume"))?;
                        out.write_all(&buf[..n])
                            .map_err(io_err("zero the volume"))?;
                    }
                }
                at = end;
            }
        }
        for (storage, meta) in chain.iter().zip(&metas) {
            for (name, obj) in meta.objects.iter().flat_map(|o| o.iter()) {
                let data = fs::read(self.dir(*storage).join(name))
                    .map_err(io_err(format!("read {name}")))?;
                out.seek(SeekFrom::Start(obj.offset))
                    .map_err(io_err("seek the volume"))?;
                out.write_all(&data).map_err(io_err("write the volume"))?;
            }
        }
        out.sync_all().map_err(io_err("sync the volume"))?;
        Ok(metas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(id: Uuid, parent: Option<Uuid>) -> Header {
        Header {
            backup_id: id,
            volume_id: Uuid::nil(),
            name: Some("b".into()),
            description: None,
            created_at: "2026-12-01T00:00:00".into(),
            parent_id: parent,
            volume_meta: "{}".into(),
        }
    }

    fn write_at(path: &Path, at: u64, data: &[u8]) {
        let mut f = OpenOptions::new().write(true).open(path).unwrap();
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(data).unwrap();
    }

    #[test]
    fn full_incremental_restore_and_a_corrupt_object() {
        let dir = tempfile::tempdir().unwrap();
        let area = BackupArea::open(dir.path()).unwrap();
        let vol = dir.path().join("vol");
        let size = 64u64 << 20;
        File::create(&vol).unwrap().set_len(size).unwrap();
        write_at(&vol, 1 << 20, &[7u8; 100_000]);
        write_at(&vol, 40 << 20, b"tail");
        let (full, inc) = (Uuid::new_v4(), Uuid::new_v4());
        // Two chunks hold data; the other six are holes and are not stored.
        assert_eq!(
            area.write(full, &vol, None, &header(full, None)).unwrap(),
            2
        );
        write_at(&vol, 3 << 20, &[9u8; 70_000]);
        // One changed extent of three 32 KiB blocks.
        assert_eq!(
            area.write(inc, &vol, Some(full), &header(inc, Some(full)))
                .unwrap(),
            1
        );
        let stored: u64 = area
            .read_metadata(inc)
            .unwrap()
            .objects
            .iter()
            .flat_map(|o| o.values())
            .map(|o| o.length)
            .sum();
        assert_eq!(stored, 3 * SHA_BLOCK_BYTES as u64);

        let out = dir.path().join("out");
        File::create(&out).unwrap().set_len(size).unwrap();
        write_at(&out, 50 << 20, b"junk");
        area.restore(&[full, inc], &out, size, false).unwrap();
        assert_eq!(fs::read(&out).unwrap(), fs::read(&vol).unwrap());

        // Flip one byte of the full backup's second object.
        let obj = area.dir(full).join("backup-00002");
        let mut bytes = fs::read(&obj).unwrap();
        bytes[0] ^= 0xff;
        fs::write(&obj, &bytes).unwrap();
        write_at(&out, 0, b"keep");
        let err = area.restore(&[full, inc], &out, size, false).unwrap_err();
        assert!(
            matches!(err, DataError::Corrupt { ref object, .. } if object == "backup-00002"),
            "{err}"
        );
        let mut head = [0u8; 4];
        File::open(&out).unwrap().read_exact(&mut head).unwrap();
        assert_eq!(&head, b"keep", "nothing written before the check failed");

        fs::remove_file(&obj).unwrap();
        assert!(matches!(area.verify(&[full]), Err(DataError::ObjectList)));
        assert_eq!(area.list().unwrap().0.len(), 2);
        area.remove(full).unwrap();
        area.remove(full).unwrap();
        assert!(!area.has(full));
        assert!(area.has(inc));
    }
}
