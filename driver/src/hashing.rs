//! Image checksums: md5 plus the caller's multihash algorithm, computed once per byte.

use std::str::FromStr;

use md5::Digest;
use sha2::{Sha256, Sha512};

/// md5 over a stream of chunks (RustCrypto's `md-5`; OpenSSL's runs about 1.28× faster
/// here, but linking libcrypto would make the wheel non-manylinux: see bench/README.md).
#[derive(Default)]
pub struct Md5(md5::Md5);

impl Md5 {
    pub fn new() -> Md5 {
        Md5(md5::Md5::new())
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The lower-case hex digest.
    pub fn finish_hex(self) -> String {
        hex(&self.0.finalize())
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

enum Multi {
    Sha256(Sha256),
    Sha512(Sha512),
}

/// Feeds every chunk to md5 and the multihash at once.
pub struct ImageHasher {
    md5: Md5,
    multi: Multi,
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
            multi: match algo {
                HashAlgo::Sha256 => Multi::Sha256(Sha256::new()),
                HashAlgo::Sha512 => Multi::Sha512(Sha512::new()),
            },
        }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.md5.update(chunk);
        match &mut self.multi {
            Multi::Sha256(h) => h.update(chunk),
            Multi::Sha512(h) => h.update(chunk),
        }
    }

    pub fn finish(self) -> Checksums {
        Checksums {
            checksum: self.md5.finish_hex(),
            multihash: match self.multi {
                Multi::Sha256(h) => hex(&h.finalize()),
                Multi::Sha512(h) => hex(&h.finalize()),
            },
        }
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
        let sums = hasher.finish();
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
