//! The userspace NFSv3 file: MOUNT + LOOKUP once, then READ/WRITE/COMMIT through a
//! maintained pure-Rust client (`nfs3_client`) on a private current-thread runtime. No
//! root, no mount, no kernel NFS client; every RPC is bounded by the share's `timeo`.

use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;

use nfs3_client::nfs3_types::nfs3::{
    diropargs3, nfs_fh3, nfsstat3, stable_how, writeverf3, COMMIT3args, FSINFO3args, GETATTR3args,
    LOOKUP3args, Nfs3Result, READ3args, WRITE3args,
};
use nfs3_client::nfs3_types::rpc::{auth_unix, opaque_auth};
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use nfs3_client::{Nfs3Client, Nfs3ConnectionBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::runtime::Runtime;

use super::nfs::NfsShare;
use super::{AccessMode, VolumeIo};

/// The largest READ/WRITE this client sends, whatever the server allows (memory bound).
const MAX_TRANSFER: u32 = 1 << 20;

/// An NFS error status as the errno a local file would have given (so ENOSPC/EFBIG still
/// become `StorageFull`); the NFS name goes to the debug log.
pub fn errno_of(status: nfsstat3) -> io::Error {
    let errno = match status {
        nfsstat3::NFS3ERR_NOSPC => 28,
        nfsstat3::NFS3ERR_FBIG => 27,
        nfsstat3::NFS3ERR_ACCES => 13,
        nfsstat3::NFS3ERR_ROFS => 30,
        nfsstat3::NFS3ERR_PERM => 1,
        nfsstat3::NFS3ERR_NOENT => 2,
        nfsstat3::NFS3ERR_DQUOT => 122,
        nfsstat3::NFS3ERR_STALE => 116,
        _ => 5,
    };
    tracing::debug!(%status, errno, "NFS server answered an error");
    io::Error::from_raw_os_error(errno)
}

fn transport(e: nfs3_client::error::Error) -> io::Error {
    match e {
        nfs3_client::error::Error::Io(e) => e,
        nfs3_client::error::Error::NfsError(s) => errno_of(s),
        other => io::Error::other(format!("NFS RPC failed: {other}")),
    }
}

fn status<T, E>(res: Nfs3Result<T, E>) -> io::Result<T> {
    match res {
        Nfs3Result::Ok(ok) => Ok(ok),
        Nfs3Result::Err((s, _)) => Err(errno_of(s)),
    }
}

/// A TCP connection for `nfs3_client` whose reads end in `UnexpectedEof` when the
/// server closes: the crate's `async_read_exact` loops on a 0-byte read, so without this
/// a dropped connection would spin until `timeo`.
pub struct Stream(TcpStream);

impl nfs3_client::io::AsyncRead for Stream {
    async fn async_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf).await?;
        if n == 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the NFS server closed the connection",
            ));
        }
        Ok(n)
    }
}

impl nfs3_client::io::AsyncWrite for Stream {
    async fn async_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).await
    }
}

/// Connects [`Stream`]s, from a chosen local port when asked (privileged ports).
pub struct Connector;

impl nfs3_client::net::Connector for Connector {
    type Connection = Stream;

    async fn connect(&self, addr: std::net::SocketAddr) -> io::Result<Stream> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Stream(stream))
    }

    async fn connect_with_port(
        &self,
        addr: std::net::SocketAddr,
        local_port: u16,
    ) -> io::Result<Stream> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        let local = if addr.is_ipv4() {
            std::net::SocketAddr::from(([0, 0, 0, 0], local_port))
        } else {
            std::net::SocketAddr::from(([0u16; 8], local_port))
        };
        socket.bind(local)?;
        let stream = socket.connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Stream(stream))
    }
}

/// AUTH_UNIX as this process: the owner of `/proc/self` is its uid and gid.
fn credential() -> opaque_auth<'static> {
    let (uid, gid) = std::fs::metadata("/proc/self")
        .map(|m| (m.uid(), m.gid()))
        .unwrap_or((65534, 65534));
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    opaque_auth::auth_unix(&auth_unix {
        stamp: 0,
        machinename: Opaque::owned(host.trim().as_bytes().to_vec()),
        uid,
        gid,
        gids: vec![],
    })
}

/// One open volume file on an NFS server.
pub struct NfsFile {
    runtime: Runtime,
    client: Nfs3Client<Stream>,
    fh: nfs_fh3,
    mode: AccessMode,
    pos: u64,
    rsize: u32,
    wsize: u32,
    timeout: std::time::Duration,
    /// The write verifier of the unstable writes not yet committed (`None`: nothing to commit).
    pending: Option<writeverf3>,
    /// Read-ahead: bytes of the file from `ahead_at` on (one READ of `rsize`), so small
    /// reads (`io::copy`'s 8 KiB) cost one RPC per `rsize`, not one each.
    ahead: Vec<u8>,
    ahead_at: u64,
}

impl NfsFile {
    /// Mounts the export (MOUNT protocol only, nothing on this host), looks up the
    /// volume's file and reads the server's transfer sizes.
    pub fn open(share: &NfsShare, mode: AccessMode) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let ip = share.resolve()?;
        let timeout = share.timeout;
        let (client, fh, rsize, wsize) = runtime.block_on(async {
            let mut builder = Nfs3ConnectionBuilder::new(Connector, ip.to_string(), &share.path)
                .portmapper_port(share.portmapper_port())
                .credential(credential())
                // a privileged source port needs root; servers exporting with `insecure`
                // (or the mount connector) serve everyone else
                .connect_from_privileged_port(share.resvport && is_root());
            if let Some(port) = share.mount_port.or(share.nfs_port) {
                builder = builder.mount_port(port);
            }
            if let Some(port) = share.nfs_port {
                builder = builder.nfs3_port(port);
            }
            let connection =
                bounded(timeout, async { builder.mount().await.map_err(transport) }).await?;
            let root = connection.root_nfs_fh3();
            let mut client = connection.into_nfs3_client();
            let found = bounded(timeout, async {
                let args = LOOKUP3args {
                    what: diropargs3 {
                        dir: root.clone(),
                        name: share.name.as_bytes().into(),
                    },
                };
                client.lookup(&args).await.map_err(transport)
            })
            .await?;
            let fh = status(found)?.object;
            let info = bounded(timeout, async {
                let args = FSINFO3args { fsroot: root };
                client.fsinfo(&args).await.map_err(transport)
            })
            .await?;
            let (rsize, wsize) = match info {
                Nfs3Result::Ok(ok) => (ok.rtpref.max(ok.rtmax), ok.wtpref.max(ok.wtmax)),
                Nfs3Result::Err(_) => (64 << 10, 64 << 10),
            };
            let clamp = |n: u32| n.clamp(4096, MAX_TRANSFER);
            Ok::<_, io::Error>((client, fh, clamp(rsize), clamp(wsize)))
        })?;
        Ok(Self {
            runtime,
            client,
            fh,
            mode,
            pos: 0,
            rsize,
            wsize,
            timeout,
            pending: None,
            ahead: Vec::new(),
            ahead_at: 0,
        })
    }

    fn size(&mut self) -> io::Result<u64> {
        let args = GETATTR3args {
            object: self.fh.clone(),
        };
        let client = &mut self.client;
        let attr = block(&self.runtime, self.timeout, async move {
            client.getattr(&args).await.map_err(transport)
        })?;
        Ok(status(attr)?.obj_attributes.size)
    }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn block<T>(
    runtime: &Runtime,
    timeout: std::time::Duration,
    fut: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    runtime.block_on(bounded(timeout, fut))
}

async fn bounded<T>(
    timeout: std::time::Duration,
    fut: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    tokio::time::timeout(timeout, fut)
        .await
        .unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the NFS server did not answer within {} s (timeo)",
                    timeout.as_secs_f64()
                ),
            ))
        })
}

impl Read for NfsFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let in_ahead =
            self.pos >= self.ahead_at && self.pos < self.ahead_at + self.ahead.len() as u64;
        if !in_ahead {
            let args = READ3args {
                file: self.fh.clone(),
                offset: self.pos,
                count: self.rsize,
            };
            let client = &mut self.client;
            let res = block(&self.runtime, self.timeout, async move {
                client.read(&args).await.map_err(transport)
            })?;
            let ok = status(res)?;
            self.ahead.clear();
            self.ahead.extend_from_slice(ok.data.as_ref());
            self.ahead_at = self.pos;
            if self.ahead.is_empty() {
                return Ok(0);
            }
        }
        let from = usize::try_from(self.pos - self.ahead_at).unwrap_or(usize::MAX);
        let available = &self.ahead[from..];
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Write for NfsFile {
    /// One UNSTABLE WRITE of at most `wsize` bytes; [`VolumeIo::sync`] commits them.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.mode == AccessMode::ReadOnly {
            return Err(io::Error::from_raw_os_error(9));
        }
        let count = u32::try_from(buf.len()).unwrap_or(u32::MAX).min(self.wsize);
        if count == 0 {
            return Ok(0);
        }
        self.ahead.clear();
        let data = &buf[..count as usize];
        let args = WRITE3args {
            file: self.fh.clone(),
            offset: self.pos,
            count,
            stable: stable_how::UNSTABLE,
            data: Opaque::borrowed(data),
        };
        let client = &mut self.client;
        let res = block(&self.runtime, self.timeout, async move {
            client.write(&args).await.map_err(transport)
        })?;
        let ok = status(res)?;
        if ok.count == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "the NFS server accepted 0 bytes",
            ));
        }
        if ok.committed == stable_how::UNSTABLE {
            match self.pending {
                Some(verf) if verf != ok.verf => return Err(restarted()),
                _ => self.pending = Some(ok.verf),
            }
        }
        let n = (ok.count as usize).min(data.len());
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn restarted() -> io::Error {
    io::Error::other(
        "the NFS server restarted (write verifier changed): uncommitted writes may be lost",
    )
}

impl Seek for NfsFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.size()?.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the volume",
            )
        })?;
        Ok(self.pos)
    }
}

impl VolumeIo for NfsFile {
    /// COMMIT of everything written UNSTABLE, checking the server kept it.
    fn sync(&mut self) -> io::Result<()> {
        let Some(verf) = self.pending else {
            return Ok(());
        };
        let args = COMMIT3args {
            file: self.fh.clone(),
            offset: 0,
            count: 0,
        };
        let client = &mut self.client;
        let res = block(&self.runtime, self.timeout, async move {
            client.commit(&args).await.map_err(transport)
        })?;
        let ok = status(res)?;
        if ok.verf != verf {
            return Err(restarted());
        }
        self.pending = None;
        Ok(())
    }
}
