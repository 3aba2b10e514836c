//! Point-in-time copies of volume files (snapshots, clones, volumes from snapshots):
//! a reflink (`FICLONE`) where the file system shares extents, else a sparse-aware
//! copy that visits only the source's data regions (`SEEK_DATA`/`SEEK_HOLE`) and
//! skips all-zero blocks inside them, so holes stay holes. The copy is written under a
//! temporary name, `fsync`ed and renamed: the final name never holds half a copy.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Bytes read and written per step of a sparse copy.
const BLOCK: usize = 1 << 20;

/// How a copy was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyKind {
    /// The file system shares the extents (copy-on-write).
    Reflink,
    /// Data regions copied; `bytes_written` of them were not all zero.
    Sparse { bytes_written: u64 },
}

/// The temporary name a copy to `dst` is written under.
pub fn partial_path(dst: &Path) -> PathBuf {
    let mut name = dst.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dst.with_file_name(name)
}

/// Copies `src` to `dst` (created 0600, replacing nothing but a stale partial copy),
/// then makes it `len` bytes long (a clone may be larger than its source; it is never
/// made smaller than the bytes copied). Durable when this returns.
pub fn copy(src: &Path, dst: &Path, len: u64) -> io::Result<CopyKind> {
    let from = File::open(src)?;
    let src_len = from.metadata()?.len();
    let tmp = partial_path(dst);
    let to = create_private(&tmp)?;
    let kind = match reflink(&from, &to) {
        Ok(()) => CopyKind::Reflink,
        Err(_) => {
            to.set_len(0)?;
            CopyKind::Sparse {
                bytes_written: sparse_copy(&from, &to, src_len)?,
            }
        }
    };
    to.set_len(len.max(src_len))?;
    to.sync_all()?;
    drop(to);
    fs::rename(&tmp, dst)?;
    if let Some(dir) = dst.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(kind)
}

fn create_private(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(target_os = "linux")]
fn reflink(from: &File, to: &File) -> io::Result<()> {
    rustix::fs::ioctl_ficlone(to, from).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn reflink(_from: &File, _to: &File) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Copies the data regions of the first `end` bytes; returns the bytes written.
fn sparse_copy(from: &File, to: &File, end: u64) -> io::Result<u64> {
    let mut written = 0;
    let mut pos = 0;
    while pos < end {
        let Some((data, hole)) = next_data(from, pos, end)? else {
            break;
        };
        written += copy_range(from, to, data, hole)?;
        pos = hole;
    }
    Ok(written)
}

/// The next data region at or after `pos`, as `(start, end)`, or None past the last.
/// Where the file system cannot tell, everything from `pos` counts as data.
pub(crate) fn next_data(file: &File, pos: u64, end: u64) -> io::Result<Option<(u64, u64)>> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{seek, SeekFrom};
        let data = match seek(file, SeekFrom::Data(pos)) {
            Ok(d) => d,
            Err(rustix::io::Errno::NXIO) => return Ok(None),
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::OPNOTSUPP) => {
                return Ok(Some((pos, end)))
            }
            Err(e) => return Err(e.into()),
        };
        if data >= end {
            return Ok(None);
        }
        let hole = seek(file, SeekFrom::Hole(data)).unwrap_or(end).min(end);
        Ok(Some((data, hole)))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        Ok(Some((pos, end)))
    }
}

/// Copies `[start, end)` block by block, leaving all-zero blocks unwritten (holes).
fn copy_range(from: &File, to: &File, start: u64, end: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; BLOCK];
    let mut written = 0;
    let mut off = start;
    while off < end {
        let n = usize::try_from(end - off).map_or(BLOCK, |left| left.min(BLOCK));
        let chunk = &mut buf[..n];
        from.read_exact_at(chunk, off)?;
        if chunk.iter().any(|b| *b != 0) {
            to.write_all_at(chunk, off)?;
            written += n as u64;
        }
        off += n as u64;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    const MIB: u64 = 1 << 20;

    fn pattern(seed: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| seed.wrapping_add((i % 251) as u8) | 1)
            .collect()
    }

    #[test]
    fn a_copy_holds_the_source_bytes_keeps_holes_and_may_be_larger() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("volume-src");
        let f = create_private(&src).unwrap();
        f.set_len(64 * MIB).unwrap();
        let a = pattern(7, 3 * MIB as usize + 5);
        let b = pattern(90, 4096);
        f.write_all_at(&a, MIB + 3).unwrap();
        f.write_all_at(&b, 64 * MIB - 4096).unwrap();
        drop(f);

        let dst = dir.path().join("volume-dst");
        let kind = copy(&src, &dst, 128 * MIB).unwrap();
        let meta = fs::metadata(&dst).unwrap();
        assert_eq!(meta.len(), 128 * MIB);
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert!(!partial_path(&dst).exists());
        if let CopyKind::Sparse { bytes_written } = kind {
            assert!(bytes_written >= a.len() as u64, "{bytes_written}");
            assert!(
                bytes_written <= 8 * MIB,
                "holes were copied: {bytes_written}"
            );
        }
        assert!(meta.blocks() * 512 < 16 * MIB, "copy is not sparse");
        let got = File::open(&dst).unwrap();
        let mut buf = vec![0u8; a.len()];
        got.read_exact_at(&mut buf, MIB + 3).unwrap();
        assert_eq!(buf, a);
        let mut buf = vec![0u8; b.len()];
        got.read_exact_at(&mut buf, 64 * MIB - 4096).unwrap();
        assert_eq!(buf, b);
        let mut tail = vec![1u8; 4096];
        got.read_exact_at(&mut tail, 100 * MIB).unwrap();
        assert!(tail.iter().all(|x| *x == 0));
        let mut gap = vec![1u8; 4096];
        got.read_exact_at(&mut gap, 32 * MIB).unwrap();
        assert!(gap.iter().all(|x| *x == 0));
    }

    #[test]
    fn the_sparse_path_copies_data_and_skips_zero_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a");
        let f = create_private(&src).unwrap();
        f.set_len(8 * MIB).unwrap();
        let data = pattern(3, 1000);
        f.write_all_at(&data, 5 * MIB + 17).unwrap();
        // Written zeros are data to the file system but not worth writing.
        f.write_all_at(&vec![0u8; MIB as usize], 2 * MIB).unwrap();
        let dst = dir.path().join("b");
        let to = create_private(&dst).unwrap();
        let written = sparse_copy(&f, &to, 8 * MIB).unwrap();
        to.set_len(8 * MIB).unwrap();
        assert!(
            (1000..=MIB).contains(&written),
            "zero blocks were written: {written}"
        );
        let mut buf = vec![0u8; data.len()];
        to.read_exact_at(&mut buf, 5 * MIB + 17).unwrap();
        assert_eq!(buf, data);
    }

    #[test]
    fn a_missing_source_is_an_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("x");
        assert!(copy(&dir.path().join("nope"), &dst, MIB).is_err());
        assert!(!dst.exists());
        assert!(!partial_path(&dst).exists());
    }
}
