//! The add (upload) flow: read the first chunk, create, attach, stream while md5, the
//! multihash and the writes run on their own threads, grow, verify; a guard removes the
//! volume on failure.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};

use crate::backend::CinderStore;
use crate::client::{CinderClient, Volume};
use crate::config::GIB;
use crate::connector::AccessMode;
use crate::error::DriverError;
use crate::hashing::{Checksums, HashAlgo};
use crate::pipeline::{write_behind, BufferPool, Chunk, ParallelHasher, POOL_BUFFERS};
use crate::volume::{attach, cleanup_volume, detach, wait_for_status, Attached};

/// Largest chunk read and written at once; the pipeline holds at most `POOL_BUFFERS` of them.
pub const CHUNK_BYTES: usize = 4 << 20;

/// What to upload.
#[derive(Clone, Debug)]
pub struct AddRequest {
    pub image_id: String,
    /// Declared size; `None` when unknown (the volume then grows as data arrives).
    pub size: Option<u64>,
    pub hashing_algo: HashAlgo,
    /// Owner recorded in `image_owner`; defaults to the store's project.
    pub image_owner: Option<String>,
}

impl AddRequest {
    pub fn new(image_id: &str, size: Option<u64>) -> AddRequest {
        AddRequest {
            image_id: image_id.to_string(),
            size,
            hashing_algo: HashAlgo::default(),
            image_owner: None,
        }
    }
}

/// Glance's 5-tuple: location, size, md5, multihash and `{store}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AddResult {
    pub location: String,
    pub size: u64,
    pub checksum: String,
    pub multihash: String,
    pub store: String,
}

/// Volume size for an image: ceil-GiB, at least 1.
pub fn size_gb_for(size: Option<u64>) -> u64 {
    size.map_or(1, |s| s.div_ceil(GIB).max(1))
}

/// GiB to add so that `needed` bytes fit in a volume of `size_gb`.
pub fn extra_gb(size_gb: u64, needed: u64) -> u64 {
    needed
        .saturating_sub(size_gb.saturating_mul(GIB))
        .div_ceil(GIB)
}

/// Reads until `buf` is full or the input ends.
fn read_full(data: &mut dyn Read, buf: &mut [u8]) -> Result<usize, DriverError> {
    let mut filled = 0;
    while filled < buf.len() {
        match data.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(DriverError::Io {
                    path: "the image data being uploaded".into(),
                    source,
                })
            }
        }
    }
    Ok(filled)
}

fn write_error(store: &CinderStore, volume_id: &str, source: std::io::Error) -> DriverError {
    match source.raw_os_error() {
        Some(28 | 27) => DriverError::StorageFull {
            store: store.name.clone(),
            message: format!("the device of volume {volume_id} is full: {source}"),
        },
        _ => DriverError::Io {
            path: format!("volume {volume_id}"),
            source,
        },
    }
}

pub(crate) fn add(
    store: &CinderStore,
    request: &AddRequest,
    data: &mut dyn Read,
) -> Result<AddResult, DriverError> {
    let client = &store.client;
    let owner = match &request.image_owner {
        Some(o) => o.clone(),
        None => client.project_id()?,
    };
    let name = format!("image-{}", request.image_id);
    let metadata = |size: u64| -> BTreeMap<String, String> {
        BTreeMap::from([
            ("glance_image_id".to_string(), request.image_id.clone()),
            ("image_size".to_string(), size.to_string()),
            ("image_owner".to_string(), owner.clone()),
        ])
    };
    // Nothing is created before the input has given its first bytes (or its end).
    let pool = BufferPool::new(POOL_BUFFERS, CHUNK_BYTES);
    let first = pool.fill(|buf| read_full(data, buf))?;
    let size_gb = size_gb_for(request.size);
    let volume_type = store.options.volume_type.as_deref();
    let volume = match client.create_volume(
        size_gb,
        &name,
        volume_type,
        &metadata(request.size.unwrap_or(0)),
    ) {
        Ok(v) => v,
        Err(e) => {
            // A lost answer, or a 5xx from Cinder or a proxy in front of it, does not
            // mean nothing was created: the volume may exist anyway.
            if e.is_transient() {
                remove_orphans(store, &name);
            }
            return Err(e);
        }
    };
    let mut guard = VolumeGuard {
        store,
        volume_id: volume.id.clone(),
        attachments: Vec::new(),
        committed: false,
    };
    let upload = Upload {
        request,
        size_gb,
        pool: &pool,
        first,
    };
    let (size, sums) = upload.run(&mut guard, data, &metadata)?;
    guard.committed = true;
    Ok(AddResult {
        location: store.location(&volume.id),
        size,
        checksum: sums.checksum,
        multihash: sums.multihash,
        store: store.name.clone(),
    })
}

/// The new volume of an upload: deleted with its attachments when dropped, unless the
/// upload committed.
struct VolumeGuard<'a> {
    store: &'a CinderStore,
    volume_id: String,
    attachments: Vec<String>,
    committed: bool,
}

impl VolumeGuard<'_> {
    /// Attaches read-write and seeks to `offset`.
    fn attach(&mut self, offset: u64) -> Result<Attached, DriverError> {
        let store = self.store;
        let mut attached = attach(
            &store.client,
            &store.options,
            &self.volume_id,
            AccessMode::ReadWrite,
        )?;
        self.attachments.push(attached.attachment_id.clone());
        attached
            .file
            .seek(SeekFrom::Start(offset))
            .map_err(|source| DriverError::Io {
                path: format!("volume {}", self.volume_id),
                source,
            })?;
        Ok(attached)
    }

    /// Detaches (syncing the writes) and forgets the attachment.
    fn detach(&mut self, attached: Attached) -> Result<(), DriverError> {
        let id = attached.attachment_id.clone();
        detach(&self.store.client, attached, true)?;
        self.attachments.retain(|a| *a != id);
        Ok(())
    }

    /// After a detach: waits until the volume is `available` again. A trusting driver
    /// (tests only, `Stores::trust_cinder_for_tests`) takes the attachment delete's
    /// answer as done.
    fn wait_detached(&self) -> Result<(), DriverError> {
        if !self.store.checks_cinder() {
            return Ok(());
        }
        self.wait(&["detaching", "in-use"], "available").map(drop)
    }

    fn wait(&self, transitional: &[&str], expected: &str) -> Result<Volume, DriverError> {
        wait_for_status(
            &self.store.client,
            &self.volume_id,
            transitional,
            expected,
            self.store.options.state_transition_timeout(),
        )
    }

    /// Grows the volume to `new_size_gb`, offline (detach, extend, re-attach at `written`)
    /// or online with `cinder_do_extend_attached`. The device is never truncated.
    fn grow(
        &mut self,
        attached: Attached,
        new_size_gb: u64,
        written: u64,
    ) -> Result<Attached, DriverError> {
        let store = self.store;
        let client: &CinderClient = &store.client;
        if store.options.do_extend_attached {
            client.extend(&self.volume_id, new_size_gb)?;
            self.wait(&["extending"], "in-use")
                .map_err(|e| extend_failed(store, e))?;
            attached.connector().extend()?;
            return Ok(attached);
        }
        self.detach(attached)?;
        self.wait_detached()?;
        client.extend(&self.volume_id, new_size_gb)?;
        self.wait(&["extending"], "available")
            .map_err(|e| extend_failed(store, e))?;
        self.attach(written)
    }
}

impl Drop for VolumeGuard<'_> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let store = self.store;
        tracing::warn!(store = %store.name, volume_id = %self.volume_id, "upload failed, removing the volume");
        let _ = cleanup_volume(
            &store.client,
            &store.options,
            &self.volume_id,
            &self.attachments,
        );
    }
}

/// After a create whose answer was lost or was a server error, the volume may exist
/// anyway: remove every volume with the image's name.
fn remove_orphans(store: &CinderStore, name: &str) {
    match store
        .client
        .list_volumes(Some(&crate::client::name_filter(name)))
    {
        Ok(volumes) => {
            for v in volumes.iter().filter(|v| v.name.as_deref() == Some(name)) {
                let _ = cleanup_volume(&store.client, &store.options, &v.id, &[]);
            }
        }
        Err(e) => {
            tracing::warn!(store = %store.name, name, error = %e, "cannot look for a volume the failed create may have left")
        }
    }
}

fn extend_failed(store: &CinderStore, err: DriverError) -> DriverError {
    match err {
        DriverError::UnexpectedStatus {
            volume_id, status, ..
        } if status == "error_extending" => DriverError::StorageFull {
            store: store.name.clone(),
            message: format!("extending volume {volume_id} failed (status {status})"),
        },
        other => other,
    }
}

/// How one attachment's streaming pass ended.
enum Segment {
    /// The input ended; everything read was written.
    End,
    /// The pending chunk needs this many more GiB.
    Grow(u64),
    /// The writer thread ended early (its error is the write result).
    WriterStopped,
}

type Metadata<'a> = dyn Fn(u64) -> BTreeMap<String, String> + 'a;

/// One upload's data path, after the volume was created.
struct Upload<'a> {
    request: &'a AddRequest,
    size_gb: u64,
    pool: &'a BufferPool,
    first: Chunk,
}

impl Upload<'_> {
    /// Waits for the volume, streams the data into it (md5, the multihash and the writes on
    /// threads of their own), grows it as needed, and records the size; returns the size and sums.
    fn run(
        self,
        guard: &mut VolumeGuard,
        data: &mut dyn Read,
        metadata: &Metadata,
    ) -> Result<(u64, Checksums), DriverError> {
        let Upload {
            request,
            mut size_gb,
            pool,
            first,
        } = self;
        let store = guard.store;
        let client = &store.client;
        let volume_id = guard.volume_id.clone();
        let volume = guard.wait(&["creating"], "available")?;
        if let (Some(wanted), true) = (&store.options.volume_type, store.checks_cinder()) {
            if volume.volume_type.as_deref() != Some(wanted.as_str()) {
                return Err(DriverError::Inconsistent(format!(
                    "volume {volume_id} was created with type {:?} instead of '{wanted}'",
                    volume.volume_type
                )));
            }
        }
        let hasher = ParallelHasher::new(request.hashing_algo);
        let mut written: u64 = 0;
        let mut attached = guard.attach(0)?;
        let mut pending = Some(first);
        // One pass per attachment: stream into it (the writes on a thread of their own)
        // until the input ends or the volume must grow. Bounded by the input: every pass
        // but the last grows the volume by the GiB the pending chunk needs.
        loop {
            let (fed, wrote) = write_behind(&mut attached.file, |queue| {
                // bounded by the input: every pass consumes one non-empty chunk
                loop {
                    let chunk = match pending.take() {
                        Some(chunk) => chunk,
                        None => pool.fill(|buf| read_full(data, buf))?,
                    };
                    let n = chunk.bytes().len() as u64;
                    if n == 0 {
                        return Ok(Segment::End);
                    }
                    let needed = written + n;
                    if let Some(size) = request.size {
                        if needed > size {
                            return Err(DriverError::SizeMismatch(format!(
                                "Size exceeds: the image was declared as {size} bytes but more data arrived"
                            )));
                        }
                    }
                    let extra = extra_gb(size_gb, needed);
                    if extra > 0 {
                        pending = Some(chunk);
                        return Ok(Segment::Grow(extra));
                    }
                    hasher.update(&chunk);
                    if queue.send(chunk).is_err() {
                        return Ok(Segment::WriterStopped);
                    }
                    written = needed;
                }
            });
            wrote.map_err(|e| write_error(store, &volume_id, e))?;
            match fed? {
                Segment::End => break,
                Segment::Grow(extra) => {
                    size_gb += extra;
                    attached = guard.grow(attached, size_gb, written)?;
                }
                Segment::WriterStopped => {
                    return Err(DriverError::Inconsistent(format!(
                        "the writer of volume {volume_id} stopped without an error"
                    )))
                }
            }
        }
        guard.detach(attached)?;
        if let Some(size) = request.size {
            if written != size {
                return Err(DriverError::SizeMismatch(format!(
                    "Size mismatch: the image was declared as {size} bytes but {written} arrived"
                )));
            }
        }
        guard.wait_detached()?;
        if request.size.is_none() {
            client.replace_metadata(&volume_id, &metadata(written))?;
        }
        client.set_readonly(&volume_id, true)?;
        let sums = hasher.finish()?;
        if !store.checks_cinder() {
            return Ok((written, sums));
        }
        let stored = client.show_volume(&volume_id)?;
        if stored.metadata.get("image_size").map(String::as_str)
            != Some(written.to_string().as_str())
        {
            return Err(DriverError::Inconsistent(format!(
                "volume {volume_id} records image_size {:?} but {written} bytes were written",
                stored.metadata.get("image_size")
            )));
        }
        Ok((written, sums))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_sizes() {
        let cases = [
            (None, 1),
            (Some(0), 1),
            (Some(1), 1),
            (Some(GIB), 1),
            (Some(GIB + 1), 2),
            (Some(5 * GIB - 1), 5),
        ];
        for (size, expected) in cases {
            assert_eq!(size_gb_for(size), expected, "{size:?}");
        }
    }

    #[test]
    fn growth_steps() {
        let chunk = CHUNK_BYTES as u64;
        let cases = [
            (1, 0, 0),
            (1, GIB, 0),
            (1, GIB + 1, 1),
            (1, GIB + chunk, 1),
            (2, 2 * GIB + 1, 1),
            (1, 3 * GIB, 2),
        ];
        for (size_gb, needed, expected) in cases {
            assert_eq!(
                extra_gb(size_gb, needed),
                expected,
                "{size_gb} GiB, {needed} bytes"
            );
        }
    }

    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(3);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn read_full_fills_across_short_reads() {
        let cases: [(&[u8], usize, Vec<usize>); 3] = [
            (b"abcdefgh", 4, vec![4, 4, 0]),
            (b"abcde", 4, vec![4, 1, 0]),
            (b"", 4, vec![0]),
        ];
        for (input, size, expected) in cases {
            let mut reader = Trickle(input);
            let mut buf = vec![0u8; size];
            let mut got = Vec::new();
            for _ in 0..expected.len() {
                got.push(read_full(&mut reader, &mut buf).expect("reads"));
            }
            assert_eq!(got, expected, "{input:?}");
        }
    }
}
