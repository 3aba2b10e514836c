//! The upload pipeline: a fixed pool of chunk buffers; md5, the multihash and the write to
//! the volume each on its own thread, so reading, hashing and writing overlap while memory
//! stays bounded by the pool.

use std::io::Write;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::error::DriverError;
use crate::hashing::{Checksums, HashAlgo, Md5, Multihash};

/// Buffers in the pool: one being filled, the others queued for the hashers and the writer.
/// The pipeline never holds more than `POOL_BUFFERS × chunk` bytes of image data.
pub const POOL_BUFFERS: usize = 4;

/// A filled chunk, shared by the writer and both hashers; the last holder to let go
/// gives the buffer back to the pool.
pub struct Chunk {
    data: Arc<Vec<u8>>,
    len: usize,
    pool: Sender<Vec<u8>>,
}

impl Chunk {
    pub fn bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }

    fn share(&self) -> Chunk {
        Chunk {
            data: self.data.clone(),
            len: self.len,
            pool: self.pool.clone(),
        }
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        let data = std::mem::take(&mut self.data);
        if let Some(buf) = Arc::into_inner(data) {
            // the pool is gone only when the upload ended; the buffer is freed then
            let _ = self.pool.send(buf);
        }
    }
}

/// A bounded pool of chunk buffers.
pub struct BufferPool {
    free: Receiver<Vec<u8>>,
    back: Sender<Vec<u8>>,
}

impl BufferPool {
    pub fn new(buffers: usize, chunk: usize) -> BufferPool {
        let (back, free) = channel();
        for _ in 0..buffers {
            // the receiver is alive: sending cannot fail
            let _ = back.send(vec![0u8; chunk]);
        }
        BufferPool { free, back }
    }

    /// Fills a free buffer (waiting for one) with `fill`, which returns the bytes it
    /// put in; a buffer is lent out only while a `Chunk` of it lives.
    pub fn fill<E>(&self, fill: impl FnOnce(&mut [u8]) -> Result<usize, E>) -> Result<Chunk, E> {
        // our own `back` keeps the channel open, and every lent buffer comes back
        let mut buf = self.free.recv().unwrap_or_default();
        let len = fill(&mut buf)?;
        Ok(Chunk {
            data: Arc::new(buf),
            len,
            pool: self.back.clone(),
        })
    }
}

/// How much nicer than the rest of the process the writer and multihash threads run.
pub const HELPER_NICENESS: i32 = 10;

/// Lowers this thread's priority (Linux's nice is per thread), so that on a machine with
/// fewer free cores than busy stages the scheduler gives md5, the slowest stage, its core
/// first and the other stages fill the rest: 1 GiB on 2 cores went from ~480 to ~545 MB/s.
/// Advisory: where it is refused, nothing changes.
fn yield_to_md5() {
    #[cfg(target_os = "linux")]
    if let Ok(nice) = rustix::process::getpriority_process(None) {
        let _ = rustix::process::setpriority_process(
            Some(rustix::thread::gettid()),
            (nice + HELPER_NICENESS).min(19),
        );
    }
}

fn spawn_hasher<H: Send + 'static, R: Send + 'static>(
    name: &str,
    nice: bool,
    mut state: H,
    update: fn(&mut H, &[u8]),
    finish: fn(H) -> R,
) -> (Sender<Chunk>, JoinHandle<R>) {
    let (tx, rx) = channel::<Chunk>();
    let handle = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            if nice {
                yield_to_md5();
            }
            for chunk in rx {
                update(&mut state, chunk.bytes());
            }
            finish(state)
        })
        .unwrap_or_else(|e| panic!("cannot start the {name} thread: {e}"));
    (tx, handle)
}

/// md5 and the multihash on two threads, fed the same chunks in order.
pub struct ParallelHasher {
    md5: (Sender<Chunk>, JoinHandle<Result<String, DriverError>>),
    multi: (Sender<Chunk>, JoinHandle<String>),
}

impl ParallelHasher {
    pub fn new(algo: HashAlgo) -> ParallelHasher {
        let md5 = spawn_hasher(
            "cinderbox-md5",
            false,
            Md5::new(),
            Md5::update,
            Md5::finish_hex,
        );
        let multi = spawn_hasher(
            "cinderbox-multihash",
            true,
            Multihash::new(algo),
            Multihash::update,
            Multihash::finish_hex,
        );
        ParallelHasher { md5, multi }
    }

    /// Queues the chunk for both hashers (they share it; nothing is copied).
    pub fn update(&self, chunk: &Chunk) {
        // a hasher thread ends only when its sender is dropped (in `finish`)
        let _ = self.md5.0.send(chunk.share());
        let _ = self.multi.0.send(chunk.share());
    }

    /// Waits for both hashers to reach the end of the data.
    pub fn finish(self) -> Result<Checksums, DriverError> {
        let ParallelHasher { md5, multi } = self;
        drop(md5.0);
        drop(multi.0);
        fn join<R>(h: JoinHandle<R>) -> R {
            h.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }
        Ok(Checksums {
            checksum: join(md5.1)?,
            multihash: join(multi.1),
        })
    }
}

/// Chunks queued for the writer thread of `write_behind`.
pub struct WriteQueue {
    tx: SyncSender<Chunk>,
}

/// The writer thread has stopped (its write failed; `write_behind` returns why).
#[derive(Debug)]
pub struct WriterStopped;

impl WriteQueue {
    /// Queues a chunk to be written after those queued before it.
    pub fn send(&self, chunk: Chunk) -> Result<(), WriterStopped> {
        self.tx.send(chunk).map_err(|_| WriterStopped)
    }
}

/// Runs `feed` with a queue whose chunks a thread of their own writes to `out`, in order,
/// then flushes; returns what `feed` returned and how the writes went. The first failed
/// write stops the writer, and later `send`s say so.
pub fn write_behind<W, R>(
    out: &mut W,
    feed: impl FnOnce(&WriteQueue) -> R,
) -> (R, std::io::Result<()>)
where
    W: Write + Send + ?Sized,
{
    std::thread::scope(|scope| {
        // the pool bounds the bytes in flight; the queue only needs room for all of them
        let (tx, rx) = sync_channel::<Chunk>(POOL_BUFFERS);
        let writer = std::thread::Builder::new()
            .name("cinderbox-write".into())
            .spawn_scoped(scope, move || -> std::io::Result<()> {
                yield_to_md5();
                for chunk in rx {
                    out.write_all(chunk.bytes())?;
                }
                out.flush()
            })
            .unwrap_or_else(|e| panic!("cannot start the writer thread: {e}"));
        let queue = WriteQueue { tx };
        let fed = feed(&queue);
        drop(queue);
        let wrote = writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (fed, wrote)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashing::ImageHasher;

    #[test]
    fn parallel_hashes_equal_serial_ones_and_buffers_come_back() {
        for algo in [HashAlgo::Sha256, HashAlgo::Sha512] {
            let pool = BufferPool::new(2, 7);
            let hasher = ParallelHasher::new(algo);
            let mut serial = ImageHasher::new(algo);
            let data: Vec<u8> = (0..200u8).collect();
            // far more chunks than buffers: every buffer is returned and reused
            for part in data.chunks(5) {
                let chunk = pool
                    .fill(|buf| {
                        buf[..part.len()].copy_from_slice(part);
                        Ok::<usize, ()>(part.len())
                    })
                    .expect("fills");
                hasher.update(&chunk);
                serial.update(part);
            }
            assert_eq!(hasher.finish().ok(), serial.finish().ok(), "{algo:?}");
        }
    }

    fn chunk_of(pool: &BufferPool, part: &[u8]) -> Chunk {
        pool.fill(|buf| {
            buf[..part.len()].copy_from_slice(part);
            Ok::<usize, ()>(part.len())
        })
        .expect("fills")
    }

    /// The writer runs nicer than its caller (so it yields the core to md5).
    #[cfg(target_os = "linux")]
    #[test]
    fn the_writer_thread_yields_to_md5() {
        struct Niceness(Option<i32>);
        impl Write for Niceness {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                // the calling thread's own nice value
                self.0 = rustix::process::getpriority_process(None).ok();
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let ours = rustix::process::getpriority_process(None).expect("own priority");
        let pool = BufferPool::new(1, 4);
        let mut out = Niceness(None);
        let ((), wrote) = write_behind(&mut out, |queue| {
            queue.send(chunk_of(&pool, b"data")).expect("queued");
        });
        wrote.expect("written");
        assert_eq!(out.0, Some((ours + HELPER_NICENESS).min(19)));
    }

    #[test]
    fn write_behind_writes_in_order_and_stops_at_the_first_failure() {
        let pool = BufferPool::new(2, 7);
        let data: Vec<u8> = (0..200u8).collect();
        let mut out = Vec::new();
        let (fed, wrote) = write_behind(&mut out, |queue| {
            data.chunks(7)
                .map(|part| queue.send(chunk_of(&pool, part)))
                .filter(Result::is_ok)
                .count()
        });
        assert_eq!((fed, wrote.is_ok()), (29, true));
        assert_eq!(out, data);

        // a sink that takes 10 bytes, then fails
        struct Full(usize);
        impl Write for Full {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if self.0 >= 10 {
                    return Err(std::io::Error::from_raw_os_error(28));
                }
                let n = buf.len().min(10 - self.0);
                self.0 += n;
                Ok(n)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut full = Full(0);
        let (sent, wrote) = write_behind(&mut full, |queue| {
            // the pool has 2 buffers: sending stops once the writer has failed
            data.chunks(7)
                .take_while(|part| queue.send(chunk_of(&pool, part)).is_ok())
                .count()
        });
        assert_eq!(wrote.map_err(|e| e.raw_os_error()), Err(Some(28)));
        assert!(sent < 29, "{sent} chunks accepted after the failure");
        assert_eq!(full.0, 10);
    }
}
