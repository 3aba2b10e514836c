//! Image checksums: md5 plus the caller's multihash algorithm, computed once per byte.

use std::str::FromStr;

use md5::Digest;
#[cfg(not(feature = "openssl"))]
use sha2::{Sha256, Sha512};

use crate::error::DriverError;

/// md5 over a stream of chunks. md5 bounds the upload pipeline (sha256 runs at more than
/// twice its speed with SHA-NI), so OpenSSL's is used where the `openssl` feature is on
/// (about 1.3× RustCrypto's `md-5` here); RustCrypto's where it is off or OpenSSL refuses
/// md5 (FIPS mode).
pub struct Md5(Md5Impl);

enum Md5Impl {
    #[cfg(feature = "openssl")]
    OpenSsl(openssl::hash::Hasher),
    Rust(md5::Md5),
    /// OpenSSL failed part-way (it never has for md5): the digest is lost, and `finish_hex` says so.
    #[cfg(feature = "openssl")]
    Failed(String),
}

impl Default for Md5 {
    fn default() -> Md5 {
        Md5::new()
    }
}

impl Md5 {
    pub fn new() -> Md5 {
        #[cfg(feature = "openssl")]
        if let Ok(hasher) = openssl::hash::Hasher::new(openssl::hash::MessageDigest::md5()) {
            return Md5(Md5Impl::OpenSsl(hasher));
        }
        Md5(Md5Impl::Rust(md5::Md5::new()))
    }

    /// Which implementation hashes (reported by the benchmark).
    pub fn implementation(&self) -> &'static str {
        match &self.0 {
            #[cfg(feature = "openssl")]
            Md5Impl::OpenSsl(_) => "openssl",
            Md5Impl::Rust(_) => "rustcrypto",
            #[cfg(feature = "openssl")]
            Md5Impl::Failed(_) => "failed",
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            #[cfg(feature = "openssl")]
            Md5Impl::OpenSsl(hasher) => {
                if let Err(e) = hasher.update(data) {
                    self.0 = Md5Impl::Failed(e.to_string());
                }
            }
            Md5Impl::Rust(hasher) => hasher.update(data),
            #[cfg(feature = "openssl")]
            Md5Impl::Failed(_) => {}
        }
    }

    /// The lower-case hex digest.
    pub fn finish_hex(self) -> Result<String, DriverError> {
        match self.0 {
            #[cfg(feature = "openssl")]
            Md5Impl::OpenSsl(mut hasher) => hasher
                .finish()
                .map(|digest| hex(&digest))
                .map_err(|e| DriverError::Hashing(e.to_string())),
            Md5Impl::Rust(hasher) => Ok(hex(&hasher.finalize())),
            #[cfg(feature = "openssl")]
            Md5Impl::Failed(why) => Err(DriverError::Hashing(why)),
        }
    }
}

/// Glance's `hashing_algorithm` choices that cinderbox supports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HashAlgo {
    #[default]
    Sha256,
    Sha512,
}

impl HashAlgo {
    pub fn as_str(self) -> &'static str {
        match self {
            HashAlgo::Sha256 => "sha256",
            HashAlgo::Sha512 => "sha512",
        }
    }
}

impl FromStr for HashAlgo {
    type Err = String;
    fn from_str(s: &str) -> Result<HashAlgo, String> {
        match s {
            "sha256" => Ok(HashAlgo::Sha256),
            "sha512" => Ok(HashAlgo::Sha512),
            other => Err(format!(
                "unsupported hashing algorithm '{other}' (use sha256 or sha512)"
            )),
        }
    }
}

/// The multihash (`os_hash_value`): OpenSSL's SHA-2 with the `openssl` feature (its
/// low-level API cannot fail; about 1.2× RustCrypto's with SHA-NI here), RustCrypto's
/// without.
pub struct Multihash(MultiImpl);

enum MultiImpl {
    #[cfg(feature = "openssl")]
    Sha256(openssl::sha::Sha256),
    #[cfg(feature = "openssl")]
    Sha512(openssl::sha::Sha512),
    #[cfg(not(feature = "openssl"))]
    Sha256(Sha256),
    #[cfg(not(feature = "openssl"))]
    Sha512(Sha512),
}

impl Multihash {
    pub fn new(algo: HashAlgo) -> Multihash {
        #[cfg(feature = "openssl")]
        use openssl::sha::{Sha256, Sha512};
        Multihash(match algo {
            HashAlgo::Sha256 => MultiImpl::Sha256(Sha256::new()),
            HashAlgo::Sha512 => MultiImpl::Sha512(Sha512::new()),
        })
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            MultiImpl::Sha256(h) => h.update(data),
            MultiImpl::Sha512(h) => h.update(data),
        }
    }

    /// The lower-case hex digest.
    pub fn finish_hex(self) -> String {
        #[cfg(feature = "openssl")]
        return match self.0 {
            MultiImpl::Sha256(h) => hex(&h.finish()),
            MultiImpl::Sha512(h) => hex(&h.finish()),
        };
        #[cfg(not(feature = "openssl"))]
        return match self.0 {
            MultiImpl::Sha256(h) => hex(&h.finalize()),
            MultiImpl::Sha512(h) => hex(&h.finalize()),
        };
    }
}

/// Feeds every chunk to md5 and the multihash at once.
pub struct ImageHasher {
    md5: Md5,
    multi: Multihash,
}

/// Hex digests of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checksums {
    pub checksum: String,
    pub multihash: String,
}

impl ImageHasher {
    pub fn new(algo: HashAlgo) -> ImageHasher {
        ImageHasher {
            md5: Md5::new(),
            multi: Multihash::new(algo),
        }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.md5.update(chunk);
        self.multi.update(chunk);
    }

    pub fn finish(self) -> Result<Checksums, DriverError> {
        Ok(Checksums {
            checksum: self.md5.finish_hex()?,
            multihash: self.multi.finish_hex(),
        })
    }
}

/// Lower-case hex, as Glance writes `checksum` and `os_hash_value` (the workspace's one
/// hex helper; conformance re-exports it).
pub fn hex(bytes: &[u8]) -> String {
    ::hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(chunks: &[&[u8]], algo: HashAlgo, expected: (&str, &str)) {
        let mut hasher = ImageHasher::new(algo);
        for chunk in chunks {
            hasher.update(chunk);
        }
        let sums = hasher.finish().expect("md5 works");
        assert_eq!(
            (sums.checksum.as_str(), sums.multihash.as_str()),
            expected,
            "{chunks:?}"
        );
    }

    #[test]
    fn known_digests() {
        let empty = (
            "d41d8cd98f00b204e9800998ecf8427e",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        );
        let abc = (
            "900150983cd24fb0d6963f7d28e17f72",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        );
        check(&[], HashAlgo::Sha256, empty);
        check(&[b"abc"], HashAlgo::Sha256, abc);
        // chunking does not change the result
        check(&[b"a", b"", b"bc"], HashAlgo::Sha256, abc);
        check(&[b"abc"], HashAlgo::Sha512, ("900150983cd24fb0d6963f7d28e17f72", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"));
    }

    /// OpenSSL's digests (the default) equal RustCrypto's on data in odd-sized chunks.
    #[cfg(feature = "openssl")]
    #[test]
    fn openssl_and_rustcrypto_agree() {
        use sha2::Digest as _;
        let data: Vec<u8> = (0..(1u32 << 20) + 3)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let mut md5 = Md5::new();
        assert_eq!(md5.implementation(), "openssl");
        let mut sha256 = Multihash::new(HashAlgo::Sha256);
        let mut sha512 = Multihash::new(HashAlgo::Sha512);
        for part in data.chunks(65_537) {
            md5.update(part);
            sha256.update(part);
            sha512.update(part);
        }
        assert_eq!(
            md5.finish_hex().expect("md5"),
            hex(&md5::Md5::digest(&data))
        );
        assert_eq!(sha256.finish_hex(), hex(&sha2::Sha256::digest(&data)));
        assert_eq!(sha512.finish_hex(), hex(&sha2::Sha512::digest(&data)));
    }

    #[test]
    fn algo_names() {
        let cases = [
            ("sha256", Ok(HashAlgo::Sha256)),
            ("sha512", Ok(HashAlgo::Sha512)),
        ];
        for (input, expected) in cases {
            assert_eq!(input.parse::<HashAlgo>(), expected);
            assert_eq!(expected.map(HashAlgo::as_str), Ok(input));
        }
        assert!("md5".parse::<HashAlgo>().is_err());
    }
}
