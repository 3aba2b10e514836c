//! Bit rot: flip bytes of a volume's file at rest, at seeded offsets within the region
//! that holds data, so a client reading back what it wrote gets different bytes.

use std::fs::OpenOptions;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::rng::SplitMix64;

const CHUNK: usize = 1 << 20;
static ZEROS: [u8; CHUNK] = [0; CHUNK];

/// One past the last non-zero byte within the first `limit` bytes (0: nothing written).
pub fn written_end(path: &Path, limit: u64) -> io::Result<u64> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let limit = limit.min(f.metadata()?.len());
    let mut buf = vec![0u8; CHUNK];
    let (mut pos, mut end) = (0u64, 0u64);
    while pos < limit {
        let want = (limit - pos).min(CHUNK as u64) as usize;
        let n = f.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        // Slice equality is a memcmp, fast even unoptimised; most chunks are holes.
        if buf[..n] != ZEROS[..n] {
            if let Some(i) = buf[..n].iter().rposition(|b| *b != 0) {
                end = pos + i as u64 + 1;
            }
        }
        pos += n as u64;
    }
    Ok(end)
}

/// Inverts `count` bytes at offsets drawn from `seed` in `[0, end)`; returns them sorted.
pub fn flip(path: &Path, count: u32, seed: u64, end: u64) -> io::Result<Vec<u64>> {
    if end == 0 {
        return Ok(Vec::new());
    }
    let mut dice = SplitMix64::new(seed);
    let mut offsets: Vec<u64> = (0..count).map(|_| dice.next_u64() % end).collect();
    offsets.sort_unstable();
    offsets.dedup();
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    for &off in &offsets {
        let mut b = [0u8; 1];
        f.seek(SeekFrom::Start(off))?;
        f.read_exact(&mut b)?;
        b[0] ^= 0xFF;
        f.seek(SeekFrom::Start(off))?;
        f.write_all(&b)?;
    }
    f.sync_all()?;
    Ok(offsets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_land_in_the_written_region_and_are_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vol");
        let mut data = vec![0u8; 3 * CHUNK];
        data[..5000]
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (i % 251) as u8 + 1);
        std::fs::write(&path, &data).unwrap();
        assert_eq!(written_end(&path, u64::MAX).unwrap(), 5000);
        assert_eq!(written_end(&path, 100).unwrap(), 100);
        let offs = flip(&path, 8, 7, 5000).unwrap();
        assert!(!offs.is_empty() && offs.iter().all(|o| *o < 5000));
        let after = std::fs::read(&path).unwrap();
        let changed: Vec<u64> = (0..after.len())
            .filter(|i| after[*i] != data[*i])
            .map(|i| i as u64)
            .collect();
        assert_eq!(changed, offs);
        // Same seed, same offsets: flipping again restores the original.
        assert_eq!(flip(&path, 8, 7, 5000).unwrap(), offs);
        assert_eq!(std::fs::read(&path).unwrap(), data);
        assert_eq!(written_end(&dir.path().join("missing"), 10).unwrap(), 0);
        assert!(flip(&path, 8, 7, 0).unwrap().is_empty());
    }
}
