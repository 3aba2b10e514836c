//! The conformance suite's own digests: RustCrypto's md5 and sha256, never the driver's
//! hashing (which uses OpenSSL by default), so an observer does not share the code it checks.
//!
//! A crate of its own so that it is built optimised in tests as well (`[profile.dev.package]`
//! in the workspace manifest): md-5 and sha2 compile their compression functions into the
//! crate that instantiates them, and unoptimised they hash at ~40 MB/s. Nothing here is
//! generic or `#[inline]`, so every instantiation stays in this crate.

use std::io::{self, Read};

use sha2::Digest as _;

/// md5 over a stream.
#[derive(Default)]
pub struct Md5(md5::Md5);

impl Md5 {
    pub fn new() -> Md5 {
        Md5::default()
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// Lower-case hex, as Glance writes `checksum`.
    pub fn finish_hex(self) -> String {
        hex(&self.0.finalize())
    }
}

/// md5 and sha256 together: Glance's `checksum` and its default multihash.
#[derive(Default)]
pub struct Digests {
    md5: md5::Md5,
    sha256: sha2::Sha256,
}

impl Digests {
    pub fn new() -> Digests {
        Digests::default()
    }

    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.sha256.update(data);
    }

    /// (md5, sha256), lower-case hex.
    pub fn finish_hex(self) -> (String, String) {
        (hex(&self.md5.finalize()), hex(&self.sha256.finalize()))
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    ::hex::encode(bytes)
}

/// Reads `r` to its end: (bytes read, md5 hex).
pub fn md5_of(r: &mut dyn Read) -> io::Result<(u64, String)> {
    let mut md5 = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok((total, md5.finish_hex())),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        md5.update(&buf[..n]);
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests_in_any_chunking() {
        let abc = (
            "900150983cd24fb0d6963f7d28e17f72".to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_string(),
        );
        for chunks in [&[&b"abc"[..]][..], &[b"a", b"", b"bc"]] {
            let mut d = Digests::new();
            let mut m = Md5::new();
            for c in chunks {
                d.update(c);
                m.update(c);
            }
            assert_eq!(d.finish_hex(), abc, "{chunks:?}");
            assert_eq!(m.finish_hex(), abc.0, "{chunks:?}");
        }
        assert_eq!(md5_of(&mut &b"abc"[..]).expect("reads"), (3, abc.0.clone()));
        assert_eq!(Md5::new().finish_hex(), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
