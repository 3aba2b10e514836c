//! For the black-box tests of `cinderbox-store`: running the binary, emulator worlds from
//! the fixture TOML, and a counting TCP proxy in front of Keystone.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cinderbox_emulator::config::World;
use cinderbox_emulator::testing::Emulator;

/// The `cinderbox-store` command line, built by Cargo in this package from the driver's
/// `cli::main` (the driver's own binary is the same one call): a cross-package
/// `CARGO_BIN_EXE_cinderbox-store` does not exist, and a path guessed under `target/`
/// could be stale or missing.
pub const BIN: &str = env!("CARGO_BIN_EXE_cinderbox-store-under-test");

/// What one run printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn of(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// Asserts the exit code, showing everything when it differs.
    pub fn expect(self, code: i32, what: &str) -> Run {
        assert_eq!(self.code, code, "{what}: {self:#?}");
        self
    }
}

/// `cinderbox-store -c config args…` with stdin closed.
pub fn cli(config: &Path, args: &[&str]) -> Run {
    let out = Command::new(BIN)
        .arg("-c")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("binary runs");
    Run::of(out)
}

/// The same with `input` written to stdin by a thread (any size, never held in memory).
pub fn cli_with_stdin(config: &Path, args: &[&str], mut input: impl Read + Send) -> Run {
    let mut child = Command::new(BIN)
        .arg("-c")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let out = std::thread::scope(|scope| {
        scope.spawn(move || {
            // the child may stop reading early (an error): that is its answer
            let _ = std::io::copy(&mut input, &mut stdin);
        });
        child.wait_with_output().expect("binary ends")
    });
    Run::of(out)
}

/// The default world's TOML (fixtures/emulator.toml) with edits, parsed the emulator's way.
pub fn world(edit: impl FnOnce(String) -> String) -> World {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/emulator.toml");
    let text = std::fs::read_to_string(&path).expect("fixture world");
    let mut world = World::parse(&edit(text), "edited emulator.toml").expect("world parses");
    // quick transitions: status polls find volumes ready at their first looks
    let quick = std::time::Duration::from_millis(20);
    world.delays.create = quick;
    world.delays.extend = quick;
    world.delays.delete = quick;
    for t in &mut world.volume_types {
        t.delays = None;
    }
    world
}

/// An emulator over its own temp dir, and a place for configuration files.
pub struct Cloud {
    pub emulator: Emulator,
    pub dir: tempfile::TempDir,
}

impl Cloud {
    pub fn start(world: World) -> Cloud {
        let dir = tempfile::tempdir().expect("tempdir");
        let emulator = Emulator::start_with(
            &dir.path().join("emulator"),
            world,
            "127.0.0.1:0".parse().expect("addr"),
        )
        .expect("emulator starts");
        Cloud { emulator, dir }
    }

    /// Writes a configuration file into the temp dir.
    pub fn config(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("config written");
        path
    }
}

/// A TCP proxy to `upstream` that counts `POST …/auth/tokens` requests passing through.
pub struct TokenCounter {
    pub url: String,
    count: Arc<AtomicU64>,
}

impl TokenCounter {
    pub fn start(upstream: std::net::SocketAddr) -> TokenCounter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy binds");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let count = Arc::new(AtomicU64::new(0));
        let counted = count.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let counted = counted.clone();
                std::thread::spawn(move || relay(client, upstream, &counted));
            }
        });
        TokenCounter { url, count }
    }

    pub fn tokens(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }
}

fn relay(client: TcpStream, upstream: std::net::SocketAddr, count: &AtomicU64) {
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let (Ok(mut from_server), Ok(mut to_client)) = (server.try_clone(), client.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(std::net::Shutdown::Write);
    });
    let (mut from_client, mut to_server) = (client, server);
    let needle = b"POST ";
    let path = b"/auth/tokens ";
    let mut carry: Vec<u8> = Vec::new();
    let mut buf = [0u8; 16 << 10];
    while let Ok(n) = from_client.read(&mut buf) {
        if n == 0 || to_server.write_all(&buf[..n]).is_err() {
            break;
        }
        carry.extend_from_slice(&buf[..n]);
        // request lines: "POST <path> HTTP/1.1"; keep a tail for a line split across reads
        let mut at = 0;
        while let Some(start) = find(&carry[at..], needle) {
            let line_start = at + start;
            let Some(end) = find(&carry[line_start..], b"\r\n") else {
                break;
            };
            if find(&carry[line_start..line_start + end], path).is_some() {
                count.fetch_add(1, Ordering::SeqCst);
            }
            at = line_start + end;
        }
        let keep = carry.len().saturating_sub(at).min(4096);
        carry.drain(..carry.len() - keep);
    }
    let _ = to_server.shutdown(std::net::Shutdown::Write);
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
