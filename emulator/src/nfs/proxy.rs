//! The export's public listener: a relay in front of the NFSv3 server that reads each
//! ONC RPC call record (record marking, RFC 5531 §11), decodes its header and first
//! file handle with `nfs3_types`, and asks [`Hooks::nfs_call`] what to do — serve it,
//! delay it, drop the connection, or have the file system fail or corrupt it.

use std::io::Cursor;
use std::sync::Arc;

use nfs3_server::nfs3_types::nfs3::nfs_fh3;
use nfs3_server::nfs3_types::rpc::{msg_body, rpc_msg};
use nfs3_server::nfs3_types::xdr_codec::Unpack;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

use super::fs::{volume_in_handle, Pending};
use crate::faults::operations;
use crate::volume::hooks::{Hooks, NfsOutcome};

/// The largest call record accepted (a 1 MiB WRITE and its header fit many times).
const MAX_RECORD: usize = 8 << 20;

const NFS_PROGRAM: u32 = 100_003;
const MOUNT_PROGRAM: u32 = 100_005;
const PORTMAP_PROGRAM: u32 = 100_000;
const MOUNT_PROCS: &[&str] = &["null", "mnt", "dump", "umnt", "umntall", "export"];
/// NFSv3 procedures whose arguments start with the file handle they act on.
const BY_HANDLE: &[u32] = &[1, 2, 4, 5, 6, 7, 18, 19, 20, 21];

/// The operation name and volume of one call record (without its 4-byte marks).
fn classify(record: &[u8]) -> (String, Option<Uuid>) {
    let mut cursor = Cursor::new(record);
    let Ok((msg, _)) = rpc_msg::unpack(&mut cursor) else {
        return ("nfs.null".into(), None);
    };
    let msg_body::CALL(call) = msg.body else {
        return ("nfs.null".into(), None);
    };
    let op = match call.prog {
        NFS_PROGRAM => {
            let names = operations::NFS;
            names
                .get(call.proc as usize)
                .filter(|n| n.starts_with("nfs."))
                .map(|n| n.to_string())
                .unwrap_or_else(|| "nfs.null".into())
        }
        MOUNT_PROGRAM => format!(
            "mount.{}",
            MOUNT_PROCS.get(call.proc as usize).unwrap_or(&"null")
        ),
        PORTMAP_PROGRAM => "portmap.call".into(),
        _ => "nfs.null".into(),
    };
    let volume = (call.prog == NFS_PROGRAM && BY_HANDLE.contains(&call.proc))
        .then(|| nfs_fh3::unpack(&mut cursor).ok())
        .flatten()
        .and_then(|(fh, _)| volume_in_handle(fh.data.as_ref()));
    (op, volume)
}

/// Reads one record (all its fragments, marks kept so it can be relayed as is).
/// `Ok(None)` at a clean end of stream.
async fn read_record(
    client: &mut (impl tokio::io::AsyncRead + Unpin),
) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut raw = Vec::new();
    let mut body = Vec::new();
    // bounded by MAX_RECORD: every fragment adds its length or fails
    loop {
        let mut mark = [0u8; 4];
        match client.read_exact(&mut mark).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && raw.is_empty() => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        }
        let word = u32::from_be_bytes(mark);
        let len = (word & 0x7fff_ffff) as usize;
        if body.len() + len > MAX_RECORD {
            return Err(std::io::Error::other("RPC record too large"));
        }
        let start = body.len();
        body.resize(start + len, 0);
        client.read_exact(&mut body[start..]).await?;
        raw.extend_from_slice(&mark);
        raw.extend_from_slice(&body[start..]);
        if word & 0x8000_0000 != 0 {
            return Ok(Some((raw, body)));
        }
    }
}

/// Relays one client connection to the server, consulting the hooks per call.
async fn relay(
    client: TcpStream,
    server: std::net::SocketAddr,
    hooks: Arc<dyn Hooks>,
    pending: Pending,
) -> std::io::Result<()> {
    let upstream = TcpStream::connect(server).await?;
    upstream.set_nodelay(true)?;
    client.set_nodelay(true)?;
    let (mut up_read, mut up_write) = upstream.into_split();
    let (mut down_read, mut down_write) = client.into_split();
    let replies = async {
        // 1 MiB at a time: a READ reply moves in one or two passes, not 128 of 8 KiB
        let mut buf = vec![0u8; 1 << 20];
        // bounded by the server: each pass relays bytes or ends at EOF
        loop {
            let n = up_read.read(&mut buf).await?;
            if n == 0 {
                return down_write.shutdown().await;
            }
            down_write.write_all(&buf[..n]).await?;
        }
    };
    let calls = async {
        // bounded by the client: each pass relays or ends on one record
        loop {
            let Some((raw, body)) = read_record(&mut down_read).await? else {
                return Ok::<_, std::io::Error>(());
            };
            let (op, volume) = classify(&body);
            let plan = hooks.nfs_call(&op, volume);
            if !plan.delay.is_zero() {
                tokio::time::sleep(plan.delay).await;
            }
            match (plan.outcome, volume) {
                (NfsOutcome::Drop, _) => {
                    tracing::info!(operation = %op, ?volume, "fault: NFS connection dropped");
                    return Err(std::io::Error::other("dropped by a fault rule"));
                }
                (NfsOutcome::Fail | NfsOutcome::Corrupt { .. }, Some(id)) => {
                    pending
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(id, plan.outcome);
                }
                (NfsOutcome::Serve | NfsOutcome::Fail | NfsOutcome::Corrupt { .. }, _) => {}
            }
            up_write.write_all(&raw).await?;
        }
    };
    tokio::select! {
        r = replies => r,
        r = calls => r,
    }
}

/// Accepts clients on `listener` and relays each to the NFS server at `server`.
pub async fn serve(
    listener: TcpListener,
    server: std::net::SocketAddr,
    hooks: Arc<dyn Hooks>,
    pending: Pending,
) {
    // bounded by the runtime: ends when the emulator's runtime stops
    loop {
        let Ok((client, peer)) = listener.accept().await else {
            continue;
        };
        let (hooks, pending) = (hooks.clone(), pending.clone());
        tokio::spawn(async move {
            if let Err(e) = relay(client, server, hooks, pending).await {
                tracing::debug!(%peer, error = %e, "NFS connection closed");
            }
        });
    }
}
