//! The `nfs` connector (userspace mode) against an in-process NFSv3 server (nfs3_server's
//! in-memory file system) on an ephemeral port: positioned writes never truncate, writes
//! past the end extend the file, reads and seeks, COMMIT, read-only attachments and
//! read-only exports refuse writes, a missing volume file is a clear error.

use std::io::{Read, Seek, SeekFrom, Write};

use cinderbox_driver::config::CinderOptions;
use cinderbox_driver::connector::{connector_for, AccessMode};
use cinderbox_driver::DriverError;
use nfs3_server::memfs::{MemFs, MemFsConfig};
use nfs3_server::tcp::{NFSTcp, NFSTcpListener};
use serde_json::{json, Map, Value};

fn options() -> CinderOptions {
    CinderOptions::default()
}

/// Serves `files` over NFSv3 on 127.0.0.1:0 from a background thread; returns the port.
fn serve(files: &[(&str, Vec<u8>)], read_only: bool) -> u16 {
    let mut config = MemFsConfig::default();
    for (name, content) in files {
        config.add_file(&format!("/{name}"), content.clone());
    }
    let fs = MemFs::new(config).expect("memfs");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            if read_only {
                let listener = NFSTcpListener::bind_ro("127.0.0.1:0", fs)
                    .await
                    .expect("bind");
                tx.send(listener.get_listen_port()).expect("send");
                let _ = listener.handle_forever().await;
            } else {
                let listener = NFSTcpListener::bind("127.0.0.1:0", fs).await.expect("bind");
                tx.send(listener.get_listen_port()).expect("send");
                let _ = listener.handle_forever().await;
            }
        });
    });
    rx.recv().expect("port")
}

fn info(port: u16, name: &str, extra: Value) -> Map<String, Value> {
    let mut info = json!({
        "driver_volume_type": "nfs",
        "export": "127.0.0.1:/",
        "name": name,
        "options": format!("-o vers=3,port={port},mountport={port},timeo=300"),
        "format": "raw",
        "access_mode": "rw",
        "encrypted": false,
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        info[k] = v;
    }
    info.as_object().cloned().expect("object")
}

fn read_all(port: u16, name: &str) -> Vec<u8> {
    let connector = connector_for(&info(port, name, json!({})), &options()).expect("connector");
    let mut file = connector.open(AccessMode::ReadOnly).expect("open ro");
    let mut out = Vec::new();
    file.read_to_end(&mut out).expect("read");
    out
}

#[test]
fn writes_land_in_place_and_extend_the_file() {
    let port = serve(&[("volume-1", b"0123456789".to_vec())], false);
    let connector = connector_for(&info(port, "volume-1", json!({})), &options()).expect("nfs");
    let mut file = connector.open(AccessMode::ReadWrite).expect("open rw");
    file.seek(SeekFrom::Start(4)).expect("seek");
    file.write_all(b"ab").expect("write");
    file.sync().expect("commit");
    drop(file);
    connector.disconnect().expect("disconnect");
    assert_eq!(read_all(port, "volume-1"), b"0123ab6789", "no truncation");

    // a write larger than one WRITE RPC (1 MiB max) that runs past the end grows the file
    let big: Vec<u8> = (0..3 * (1 << 20) + 123)
        .map(|i: u32| (i % 251) as u8)
        .collect();
    let mut file = connector.open(AccessMode::ReadWrite).expect("reopen rw");
    assert_eq!(file.seek(SeekFrom::End(0)).expect("end"), 10);
    file.seek(SeekFrom::Start(8)).expect("seek");
    file.write_all(&big).expect("write big");
    file.sync().expect("commit");
    drop(file);
    let got = read_all(port, "volume-1");
    assert_eq!(got.len(), 8 + big.len());
    assert_eq!(&got[..8], b"0123ab67");
    assert!(got[8..] == big[..], "bytes differ after the big write");

    // ranged read across an RPC boundary
    let mut file = connector.open(AccessMode::ReadOnly).expect("open ro");
    file.seek(SeekFrom::Start((1 << 20) - 3)).expect("seek");
    let mut window = [0u8; 10];
    file.read_exact(&mut window).expect("read window");
    let from = (1 << 20) - 3 - 8;
    assert_eq!(&window[..], &big[from..from + 10]);
}

#[test]
fn read_only_is_refused_by_the_client_and_by_the_server() {
    let port = serve(&[("volume-2", vec![7u8; 4096])], false);
    let connector = connector_for(&info(port, "volume-2", json!({})), &options()).expect("nfs");
    let mut ro = connector.open(AccessMode::ReadOnly).expect("open ro");
    let err = ro.write(b"x").expect_err("ro attachment refuses writes");
    assert_eq!(err.raw_os_error(), Some(9), "{err}");

    let ro_port = serve(&[("volume-3", vec![7u8; 4096])], true);
    let connector = connector_for(&info(ro_port, "volume-3", json!({})), &options()).expect("nfs");
    let mut rw = connector.open(AccessMode::ReadWrite).expect("open rw");
    let err = rw.write(b"x").expect_err("read-only export refuses writes");
    assert_eq!(err.raw_os_error(), Some(30), "{err}");
    assert_eq!(read_all(ro_port, "volume-3"), vec![7u8; 4096]);
}

#[test]
fn missing_file_and_dead_server_are_clear_errors() {
    let port = serve(&[("volume-4", vec![1u8; 16])], false);
    let connector = connector_for(&info(port, "volume-9", json!({})), &options()).expect("nfs");
    match connector.open(AccessMode::ReadOnly) {
        Err(DriverError::Io { path, source }) => {
            assert_eq!(path, "nfs://127.0.0.1:/volume-9");
            assert!(source.raw_os_error() == Some(2), "{source}");
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a missing volume file opened"),
    }
    // nothing listens on the port of a closed listener
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let connector = connector_for(&info(closed, "volume-4", json!({})), &options()).expect("nfs");
    assert!(matches!(
        connector.open(AccessMode::ReadOnly),
        Err(DriverError::Io { .. })
    ));
}

#[test]
fn qcow2_and_encrypted_volumes_are_refused_before_any_io() {
    let cases = [
        (json!({"format": "qcow2"}), "qcow2 volumes on Cinder NFS"),
        (
            json!({"encrypted": true}),
            "encrypted volumes on Cinder NFS",
        ),
    ];
    for (extra, expected) in cases {
        match connector_for(&info(1, "volume-1", extra), &options()) {
            Err(DriverError::UnsupportedConnector { message, .. }) => {
                assert!(message.starts_with(expected), "{message}")
            }
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("refused volume accepted"),
        }
    }
}
