//! The reference model: what a correct cinder store must answer, written from the spec and
//! independent of the emulator and the driver (it imports neither).

use std::collections::BTreeMap;
use std::fmt;

use cinderbox_digest::Digests;

pub const GIB: u64 = 1 << 30;

/// Why an operation failed, as the runner compares it (the class, never the wording): the
/// adapter protocol's classes, the suite's one set.
pub use crate::adapter::ErrorClass;

/// Image bytes described by a seed and a length: regenerated on demand, never held.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Content {
    pub seed: u64,
    pub len: u64,
}

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Content {{ seed: {:#x}, len: {} }}", self.seed, self.len)
    }
}

/// One 64-bit word of pseudo-random data per 8 bytes (splitmix64 of seed and index).
fn word(seed: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Content {
    pub const EMPTY: Content = Content { seed: 0, len: 0 };

    /// Fills `buf` with the bytes at `offset..offset + buf.len()`.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        let mut pos = offset;
        let mut i = 0;
        while i < buf.len() {
            let bytes = word(self.seed, pos / 8).to_le_bytes();
            let within = (pos % 8) as usize;
            let n = (8 - within).min(buf.len() - i);
            buf[i..i + n].copy_from_slice(&bytes[within..within + n]);
            i += n;
            pos += n as u64;
        }
    }

    pub fn bytes(&self, offset: u64, len: u64) -> Vec<u8> {
        let mut buf = vec![0; len as usize];
        self.fill(offset, &mut buf);
        buf
    }

    /// A reader over the whole content, in bounded memory.
    pub fn reader(&self) -> ContentReader {
        ContentReader {
            content: *self,
            pos: 0,
        }
    }

    /// md5 hex and sha256 hex of the whole content (Glance's checksum and multihash).
    pub fn digests(&self) -> (String, String) {
        let mut digests = Digests::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut pos = 0;
        while pos < self.len {
            let n = (self.len - pos).min(buf.len() as u64) as usize;
            self.fill(pos, &mut buf[..n]);
            digests.update(&buf[..n]);
            pos += n as u64;
        }
        digests.finish_hex()
    }
}

/// Lower-case hex, as Glance writes checksums (the suite's digest crate: the model imports
/// no driver code).
pub fn hex(bytes: &[u8]) -> String {
    cinderbox_digest::hex(bytes)
}

/// Streams a `Content`.
pub struct ContentReader {
    content: Content,
    pos: u64,
}

impl std::io::Read for ContentReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.content.len - self.pos).min(buf.len() as u64) as usize;
        self.content.fill(self.pos, &mut buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

/// A configured store as the model sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreModel {
    pub name: String,
    pub volume_type: String,
    /// False when the type does not exist in Cinder: add and delete are refused.
    pub enabled: bool,
}

/// The model's key for an image (stable across shrinking: carried by the transitions).
pub type ImageKey = u32;

/// What a location names: a store, or nothing (the legacy `cinder://<id>` form).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Form {
    Store(String),
    Legacy,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub content: Content,
    /// The type its volume carries; `None` for Cinder's default type.
    pub volume_type: Option<String>,
    /// What its current location names.
    pub form: Form,
    /// Made directly through the Cinder API rather than uploaded through the store.
    pub legacy: bool,
    pub deleted: bool,
}

/// What the target can do, decided once per run (it shapes generation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Faults can be injected (the target is our emulator with the fault engine).
    pub faults: bool,
    /// The emulator can be restarted mid-sequence.
    pub restart: bool,
    /// Legacy volumes can be filled with bytes (a `local` connector on this host).
    pub legacy_bytes: bool,
    /// Largest ordinary image, bytes.
    pub max_image_bytes: u64,
    /// Uploads crossing a GiB boundary may be generated (slow).
    pub large: bool,
}

/// The reference state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    /// In `enabled_backends` order (location upgrade takes the first match).
    pub stores: Vec<StoreModel>,
    pub default_store: String,
    /// Cinder's default volume type name (what a volume created without a type carries).
    pub default_type: String,
    /// Types that exist in Cinder and may be given to legacy volumes (store types and
    /// types no store uses).
    pub legacy_types: Vec<Option<String>>,
    pub images: BTreeMap<ImageKey, Image>,
    pub next_key: ImageKey,
    pub caps: Capabilities,
}

impl Model {
    pub fn store(&self, name: &str) -> Option<&StoreModel> {
        self.stores.iter().find(|s| s.name == name)
    }

    pub fn live(&self) -> impl Iterator<Item = (&ImageKey, &Image)> {
        self.images.iter().filter(|(_, i)| !i.deleted)
    }

    /// The name of the type a volume actually carries (`None` → Cinder's default).
    pub fn effective_type<'a>(&'a self, volume_type: Option<&'a str>) -> &'a str {
        volume_type.unwrap_or(&self.default_type)
    }

    /// The store a volume of this type belongs to: the first (in `enabled_backends`
    /// order) whose type is the volume's. From the spec: a store whose type is missing is
    /// "excluded by disabling 'add' and 'delete' operations" — only those two — so lazy
    /// loading (location upgrade, a read) still matches a disabled store; and each store
    /// is defined by its `cinder_volume_type`, so a volume belongs to the store of its
    /// type and to no other.
    pub fn store_for_type(&self, volume_type: Option<&str>) -> Option<&StoreModel> {
        let t = self.effective_type(volume_type);
        self.stores.iter().find(|s| s.volume_type == t)
    }

    /// Expected outcome of an upload to `store` (`None` = default store).
    pub fn expect_add(&self, store: Option<&str>) -> Result<Form, ErrorClass> {
        let name = store.unwrap_or(&self.default_store);
        match self.store(name) {
            None => Err(ErrorClass::BadLocation),
            Some(s) if !s.enabled => Err(ErrorClass::Disabled),
            Some(s) => Ok(Form::Store(s.name.clone())),
        }
    }

    /// Expected result of a read of `offset..offset+length` of an image.
    pub fn expect_read(
        &self,
        key: ImageKey,
        offset: u64,
        length: Option<u64>,
    ) -> Result<(u64, u64), ErrorClass> {
        let image = self.images.get(&key).ok_or(ErrorClass::NotFound)?;
        if image.deleted {
            return Err(ErrorClass::NotFound);
        }
        let len = image.content.len;
        match length {
            _ if offset > len => Err(ErrorClass::Invalid),
            Some(l) if offset + l > len => Err(ErrorClass::Invalid),
            Some(l) => Ok((offset, l)),
            None => Ok((offset, len - offset)),
        }
    }

    /// Expected outcome of deleting an image through a location naming `via` (the
    /// image's own form when `None`). A store never deletes a volume of another store's
    /// type: a legacy `cinder://<id>` location is deleted by the store its volume's type
    /// belongs to (refused when that store is disabled). A volume whose type no store
    /// claims is refused too (`invalid`): its owner cannot be told — in the spec's
    /// Example 2, verbatim, `old`'s type keeps its inline comment, so the `glance-old`
    /// volumes match no store, yet they are `old`'s — and a refused delete can be retried
    /// once the config is fixed, where a wrong delete cannot be undone.
    pub fn expect_delete(&self, key: ImageKey, via: Option<&Form>) -> Result<(), ErrorClass> {
        let image = self.images.get(&key).ok_or(ErrorClass::NotFound)?;
        let form = via.unwrap_or(&image.form);
        let owner = match form {
            Form::Store(name) => Some(self.store(name).ok_or(ErrorClass::BadLocation)?),
            Form::Legacy => match self.store_for_type(image.volume_type.as_deref()) {
                Some(store) => Some(store),
                None if image.deleted => return Err(ErrorClass::NotFound),
                None => return Err(ErrorClass::Invalid),
            },
        };
        if owner.is_some_and(|s| !s.enabled) {
            return Err(ErrorClass::Disabled);
        }
        if image.deleted {
            return Err(ErrorClass::NotFound);
        }
        Ok(())
    }

    /// What `upgrade_location` must return for an image: its store's form for a legacy
    /// location whose volume type matches an enabled or disabled store, else unchanged.
    /// A missing volume stays unchanged too.
    pub fn expect_upgrade(&self, key: ImageKey) -> Form {
        let Some(image) = self.images.get(&key) else {
            return Form::Legacy;
        };
        match &image.form {
            Form::Store(name) => Form::Store(name.clone()),
            Form::Legacy if image.deleted => Form::Legacy,
            Form::Legacy => match self.store_for_type(image.volume_type.as_deref()) {
                Some(s) => Form::Store(s.name.clone()),
                None => Form::Legacy,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        let store = |name: &str, t: &str, enabled| StoreModel {
            name: name.into(),
            volume_type: t.into(),
            enabled,
        };
        Model {
            stores: vec![
                store("fast", "glance-fast", true),
                store("old", "glance-old", true),
                store("broken", "glance-missing", false),
            ],
            default_store: "fast".into(),
            default_type: "__DEFAULT__".into(),
            legacy_types: vec![None],
            images: BTreeMap::new(),
            next_key: 0,
            caps: Capabilities {
                faults: false,
                restart: false,
                legacy_bytes: true,
                max_image_bytes: 10,
                large: false,
            },
        }
    }

    #[test]
    fn content_is_deterministic_and_random_access() {
        let c = Content { seed: 7, len: 100 };
        let whole = c.bytes(0, 100);
        assert_eq!(c.bytes(13, 20), whole[13..33].to_vec());
        let mut streamed = Vec::new();
        std::io::Read::read_to_end(&mut c.reader(), &mut streamed).expect("read");
        assert_eq!(streamed, whole);
        assert_ne!(Content { seed: 8, len: 100 }.bytes(0, 100), whole);
        assert_eq!(
            Content::EMPTY.digests().0,
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }

    #[test]
    fn expectations() {
        let mut m = model();
        m.images.insert(
            1,
            Image {
                content: Content { seed: 1, len: 10 },
                volume_type: Some("glance-old".into()),
                form: Form::Legacy,
                legacy: true,
                deleted: false,
            },
        );
        m.images.insert(
            2,
            Image {
                content: Content::EMPTY,
                volume_type: None,
                form: Form::Legacy,
                legacy: true,
                deleted: false,
            },
        );
        assert_eq!(m.expect_add(None), Ok(Form::Store("fast".into())));
        assert_eq!(m.expect_add(Some("broken")), Err(ErrorClass::Disabled));
        assert_eq!(m.expect_add(Some("nope")), Err(ErrorClass::BadLocation));
        assert_eq!(m.expect_upgrade(1), Form::Store("old".into()));
        assert_eq!(m.expect_upgrade(2), Form::Legacy);
        assert_eq!(m.expect_read(1, 4, Some(6)), Ok((4, 6)));
        assert_eq!(m.expect_read(1, 4, Some(7)), Err(ErrorClass::Invalid));
        assert_eq!(m.expect_read(1, 10, None), Ok((10, 0)));
        assert_eq!(m.expect_read(9, 0, None), Err(ErrorClass::NotFound));
        let broken = Form::Store("broken".into());
        assert_eq!(m.expect_delete(1, Some(&broken)), Err(ErrorClass::Disabled));
        assert_eq!(m.expect_delete(1, None), Ok(()));
        m.images.get_mut(&1).expect("image").deleted = true;
        assert_eq!(m.expect_delete(1, None), Err(ErrorClass::NotFound));
        assert_eq!(m.expect_upgrade(1), Form::Legacy);
        // a legacy volume of the disabled store's type: upgraded to it (lazy loading is
        // not disabled), but deleted by no store (delete is)
        m.images.insert(
            3,
            Image {
                content: Content::EMPTY,
                volume_type: Some("glance-missing".into()),
                form: Form::Legacy,
                legacy: true,
                deleted: false,
            },
        );
        assert_eq!(m.expect_upgrade(3), Form::Store("broken".into()));
        assert_eq!(m.expect_delete(3, None), Err(ErrorClass::Disabled));
        assert_eq!(
            m.expect_delete(2, None),
            Err(ErrorClass::Invalid),
            "no store claims its type"
        );
    }
}
