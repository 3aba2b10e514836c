//! The runner's side of the driver adapter protocol (`docs/adapter-protocol.md`): spawns an
//! adapter process, sends one JSON-line request at a time with an id, and waits for the
//! matching answer within a bounded time. Also the wire types that adapters share.

use std::collections::VecDeque;
use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

/// How long one request may take unless the caller says otherwise. Bounds a hung adapter;
/// generous because an upload that grows its volume waits for several Cinder transitions.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// Lines of the adapter's stderr kept to explain a crash.
const STDERR_TAIL_LINES: usize = 40;

mod wire;

pub use wire::{Added, ErrorClass, Request, Response, Store, StoreState, WireError};

/// A failed call: the driver said no (with a class), or the adapter itself misbehaved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdapterError {
    /// The adapter answered with an error of this class.
    Driver { class: ErrorClass, message: String },
    /// No answer within the timeout; the adapter was killed.
    Timeout { op: String, timeout_s: u64 },
    /// The adapter died, could not be started, or broke the protocol.
    Protocol(String),
}

impl AdapterError {
    /// The error class, for answers from the driver.
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            AdapterError::Driver { class, .. } => Some(*class),
            AdapterError::Timeout { .. } | AdapterError::Protocol(_) => None,
        }
    }
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdapterError::Driver { class, message } => write!(f, "{class}: {message}"),
            AdapterError::Timeout { op, timeout_s } => {
                write!(f, "the adapter did not answer '{op}' within {timeout_s} s")
            }
            AdapterError::Protocol(m) => write!(f, "adapter protocol failure: {m}"),
        }
    }
}

impl std::error::Error for AdapterError {}

/// How to start an adapter.
#[derive(Clone, Debug)]
pub struct AdapterCommand {
    /// Short name used in logs (`rust`, `python-glance-store`).
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl AdapterCommand {
    /// `cinderbox-rust-adapter` at `program`.
    pub fn rust(program: impl Into<PathBuf>) -> AdapterCommand {
        AdapterCommand {
            name: "rust".into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// `cinderbox-rust-adapter` next to the running executable (as cargo lays out bins).
    pub fn rust_beside_current_exe() -> std::io::Result<AdapterCommand> {
        let exe = std::env::current_exe()?;
        let dir = exe.parent().unwrap_or(Path::new("."));
        // Test executables live one level down, in `deps/`.
        let candidates = [
            dir.join("cinderbox-rust-adapter"),
            dir.join("../cinderbox-rust-adapter"),
        ];
        candidates
            .into_iter()
            .find(|p| p.is_file())
            .map(AdapterCommand::rust)
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("cinderbox-rust-adapter not found beside {}; build it with `cargo build -p cinderbox-conformance`", exe.display()),
                )
            })
    }

    /// Upstream glance_store's adapter, run by `python` (from `python_glance_store_setup`).
    pub fn python_glance_store(python: impl Into<PathBuf>) -> AdapterCommand {
        AdapterCommand {
            name: "python-glance-store".into(),
            program: python.into(),
            args: vec![python_adapter_dir()
                .join("adapter.py")
                .display()
                .to_string()],
            env: vec![("PYTHONUNBUFFERED".into(), "1".into())],
        }
    }
}

/// `conformance/adapters/python-glance-store` in this source tree.
pub fn python_adapter_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("adapters/python-glance-store")
}

/// The upstream glance_store releases the Python adapter pins, each with its own
/// requirements file and venv (`setup.sh --glance-store VERSION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GlanceStoreVersion {
    /// stable/2026.1, what 2026.1 clouds run: none of the 5.5–5.7 cinder fixes
    /// (`requirements-5.4.1.txt`).
    V5_4_1,
    /// The 2026.2 cycle's release (`requirements.txt`), the default.
    V5_7_0,
}

impl GlanceStoreVersion {
    /// Every pinned version, oldest first.
    pub const ALL: [GlanceStoreVersion; 2] =
        [GlanceStoreVersion::V5_4_1, GlanceStoreVersion::V5_7_0];

    pub fn as_str(self) -> &'static str {
        match self {
            GlanceStoreVersion::V5_4_1 => "5.4.1",
            GlanceStoreVersion::V5_7_0 => "5.7.0",
        }
    }

    /// `"5.4.1"` or `"5.7.0"`; `None` for a version that is not pinned here.
    pub fn parse(text: &str) -> Option<GlanceStoreVersion> {
        GlanceStoreVersion::ALL
            .into_iter()
            .find(|v| v.as_str() == text)
    }
}

impl std::fmt::Display for GlanceStoreVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Runs `setup.sh` for glance_store 5.7.0 (see `python_glance_store_setup_version`).
pub fn python_glance_store_setup(venv: Option<&Path>) -> Result<PathBuf, String> {
    python_glance_store_setup_version(GlanceStoreVersion::V5_7_0, venv)
}

/// Runs `setup.sh --glance-store VERSION` (builds or reuses that version's venv; its
/// progress goes to our stderr) and returns the venv's python. `venv` overrides the
/// default location.
pub fn python_glance_store_setup_version(
    version: GlanceStoreVersion,
    venv: Option<&Path>,
) -> Result<PathBuf, String> {
    let script = python_adapter_dir().join("setup.sh");
    let mut command = Command::new("bash");
    command
        .arg(&script)
        .args(["--glance-store", version.as_str()])
        .stderr(Stdio::inherit())
        .stdin(Stdio::null());
    if let Some(v) = venv {
        command.arg(v);
    }
    let output = command
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!("{} failed ({})", script.display(), output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let python = stdout
        .lines()
        .last()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| format!("{} printed no python path", script.display()))?;
    Ok(PathBuf::from(python))
}

struct Conversation {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<std::io::Result<String>>,
    next_id: u64,
    /// Set once the adapter died or timed out: every later call fails at once.
    broken: Option<String>,
}

/// A running adapter. Calls are serialized (the protocol is strictly one request at a
/// time), so `&self` methods are safe to share.
pub struct Adapter {
    name: String,
    timeout: Mutex<Duration>,
    conversation: Mutex<Conversation>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

impl Adapter {
    /// Starts the adapter. Its stderr is echoed to ours line by line, prefixed with its
    /// name, and the last lines are kept to explain a crash.
    pub fn spawn(command: &AdapterCommand) -> Result<Adapter, AdapterError> {
        let mut child = Command::new(&command.program)
            .args(&command.args)
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                AdapterError::Protocol(format!(
                    "cannot start adapter '{}' ({}): {e}",
                    command.name,
                    command.program.display()
                ))
            })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");

        let (tx, lines) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("adapter-{}-stdout", command.name))
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| AdapterError::Protocol(format!("cannot start reader thread: {e}")))?;

        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr_tail.clone();
        let name = command.name.clone();
        std::thread::Builder::new()
            .name(format!("adapter-{}-stderr", command.name))
            .spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("[{name}] {line}");
                    let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                    if t.len() == STDERR_TAIL_LINES {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            })
            .map_err(|e| AdapterError::Protocol(format!("cannot start stderr thread: {e}")))?;

        Ok(Adapter {
            name: command.name.clone(),
            timeout: Mutex::new(DEFAULT_TIMEOUT),
            conversation: Mutex::new(Conversation {
                child,
                stdin,
                lines,
                next_id: 1,
                broken: None,
            }),
            stderr_tail,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The per-request timeout for later calls.
    pub fn set_timeout(&self, timeout: Duration) {
        *self.timeout.lock().unwrap_or_else(|p| p.into_inner()) = timeout;
    }

    fn stderr_tail(&self) -> String {
        let t = self.stderr_tail.lock().unwrap_or_else(|p| p.into_inner());
        t.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Sends one request and waits for its answer; the raw `result` on success.
    pub fn call(&self, op: &str, args: Value) -> Result<Value, AdapterError> {
        let timeout = *self.timeout.lock().unwrap_or_else(|p| p.into_inner());
        let mut c = self.conversation.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(why) = &c.broken {
            return Err(AdapterError::Protocol(why.clone()));
        }
        let id = c.next_id;
        c.next_id += 1;
        let line = serde_json::to_string(&Request {
            id,
            op: op.to_string(),
            args,
        })
        .map_err(|e| AdapterError::Protocol(format!("cannot encode request: {e}")))?;
        let sent = match c.stdin.as_mut() {
            Some(stdin) => writeln!(stdin, "{line}").and_then(|()| stdin.flush()),
            None => Err(std::io::Error::other("stdin closed")),
        };
        if let Err(e) = sent {
            return Err(self.break_off(&mut c, format!("cannot send '{op}': {e}")));
        }
        let answer = match c.lines.recv_timeout(timeout) {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => {
                return Err(self.break_off(&mut c, format!("reading the answer to '{op}': {e}")))
            }
            Err(RecvTimeoutError::Timeout) => {
                self.break_off(
                    &mut c,
                    format!("no answer to '{op}' within {} s", timeout.as_secs()),
                );
                return Err(AdapterError::Timeout {
                    op: op.to_string(),
                    timeout_s: timeout.as_secs(),
                });
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = c.child.wait().map(|s| s.to_string()).unwrap_or_default();
                return Err(self.break_off(
                    &mut c,
                    format!("the adapter exited ({status}) while handling '{op}'"),
                ));
            }
        };
        let response: Response = serde_json::from_str(&answer).map_err(|e| {
            self.break_off(
                &mut c,
                format!("answer to '{op}' is not a response ({e}): {answer}"),
            )
        })?;
        if response.id != Some(id) {
            return Err(self.break_off(
                &mut c,
                format!("answer to '{op}' has id {:?}, expected {id}", response.id),
            ));
        }
        match (response.ok, response.result, response.error) {
            (true, result, _) => Ok(result.unwrap_or(Value::Null)),
            (false, _, Some(WireError { class, message })) => {
                Err(AdapterError::Driver { class, message })
            }
            (false, _, None) => Err(self.break_off(
                &mut c,
                format!("error answer to '{op}' without an error object"),
            )),
        }
    }

    /// Marks the conversation dead, kills the adapter, and explains why (with its stderr).
    fn break_off(&self, c: &mut Conversation, why: String) -> AdapterError {
        let _ = c.child.kill();
        let _ = c.child.wait();
        c.stdin = None;
        let why = format!(
            "adapter '{}': {why}\n--- last lines of its stderr ---\n{}",
            self.name,
            self.stderr_tail()
        );
        c.broken = Some(why.clone());
        AdapterError::Protocol(why)
    }

    fn typed<T: for<'de> Deserialize<'de>>(
        &self,
        op: &str,
        args: Value,
    ) -> Result<T, AdapterError> {
        let value = self.call(op, args)?;
        serde_json::from_value(value.clone()).map_err(|e| {
            AdapterError::Protocol(format!(
                "result of '{op}' has the wrong shape ({e}): {value}"
            ))
        })
    }

    /// Loads the stores from the text of a `glance-api.conf`; `work_dir` is the adapter's.
    pub fn configure(
        &self,
        glance_config: &str,
        work_dir: &Path,
    ) -> Result<Vec<Store>, AdapterError> {
        #[derive(Deserialize)]
        struct Configured {
            stores: Vec<Store>,
        }
        let c: Configured = self.typed(
            "configure",
            json!({"glance_config": glance_config, "work_dir": work_dir}),
        )?;
        Ok(c.stores)
    }

    pub fn stores(&self) -> Result<Vec<Store>, AdapterError> {
        self.typed("stores", json!({}))
    }

    /// Uploads the bytes of `data_path`; `size` is `None` when not declared up front.
    pub fn add(
        &self,
        store: Option<&str>,
        image_id: &str,
        size: Option<u64>,
        data_path: &Path,
    ) -> Result<Added, AdapterError> {
        self.typed(
            "add",
            json!({"store": store, "image_id": image_id, "size": size,
                   "data_path": data_path, "hashing_algo": "sha256"}),
        )
    }

    /// Reads `length` bytes (to the end when `None`) from `offset` into `out_path`; returns
    /// the count written.
    pub fn get(
        &self,
        location: &str,
        offset: u64,
        length: Option<u64>,
        out_path: &Path,
    ) -> Result<u64, AdapterError> {
        #[derive(Deserialize)]
        struct Got {
            bytes: u64,
        }
        let g: Got = self.typed(
            "get",
            json!({"location": location, "offset": offset, "length": length, "out_path": out_path}),
        )?;
        Ok(g.bytes)
    }

    /// Like `get`, but with `hold_open`: the adapter stops pulling the driver's iterator
    /// once it has the bytes the read spans and keeps it open until `release`, as a Glance
    /// worker whose client has every byte before the worker asks the iterator for its end.
    /// Adapters whose driver reads eagerly ignore the flag.
    pub fn get_held_open(
        &self,
        location: &str,
        length: Option<u64>,
        out_path: &Path,
    ) -> Result<u64, AdapterError> {
        #[derive(Deserialize)]
        struct Got {
            bytes: u64,
        }
        let g: Got = self.typed(
            "get",
            json!({"location": location, "offset": 0, "length": length, "out_path": out_path,
                   "hold_open": true}),
        )?;
        Ok(g.bytes)
    }

    /// Closes every iterator `get_held_open` left open; returns how many. An adapter that
    /// holds none answers `unsupported` (read as 0).
    pub fn release(&self) -> Result<u64, AdapterError> {
        #[derive(Deserialize)]
        struct Released {
            released: u64,
        }
        match self.typed::<Released>("release", json!({})) {
            Ok(r) => Ok(r.released),
            Err(e) if e.class() == Some(ErrorClass::Unsupported) => Ok(0),
            Err(e) => Err(e),
        }
    }

    pub fn get_size(&self, location: &str) -> Result<u64, AdapterError> {
        #[derive(Deserialize)]
        struct Size {
            size: u64,
        }
        let s: Size = self.typed("get_size", json!({ "location": location }))?;
        Ok(s.size)
    }

    pub fn delete(&self, location: &str) -> Result<(), AdapterError> {
        self.call("delete", json!({ "location": location }))
            .map(drop)
    }

    pub fn upgrade_location(&self, location: &str) -> Result<String, AdapterError> {
        #[derive(Deserialize)]
        struct Upgraded {
            location: String,
        }
        let u: Upgraded = self.typed("upgrade_location", json!({ "location": location }))?;
        Ok(u.location)
    }

    /// One result per location, in order.
    pub fn upgrade_locations(
        &self,
        locations: &[&str],
    ) -> Result<Vec<Result<String, AdapterError>>, AdapterError> {
        #[derive(Deserialize)]
        struct Item {
            location: Option<String>,
            error: Option<WireError>,
        }
        #[derive(Deserialize)]
        struct Upgraded {
            results: Vec<Item>,
        }
        let u: Upgraded = self.typed("upgrade_locations", json!({ "locations": locations }))?;
        if u.results.len() != locations.len() {
            return Err(AdapterError::Protocol(format!(
                "upgrade_locations answered {} results for {} locations",
                u.results.len(),
                locations.len()
            )));
        }
        u.results
            .into_iter()
            .map(|item| match (item.location, item.error) {
                (Some(l), None) => Ok(Ok(l)),
                (None, Some(WireError { class, message })) => {
                    Ok(Err(AdapterError::Driver { class, message }))
                }
                _ => Err(AdapterError::Protocol(
                    "an upgrade_locations result needs exactly one of location and error".into(),
                )),
            })
            .collect()
    }

    /// Asks the adapter to exit and waits for it (bounded by the timeout; killed after).
    pub fn shutdown(self) -> Result<(), AdapterError> {
        let answered = self.call("shutdown", json!({}));
        let mut c = self.conversation.lock().unwrap_or_else(|p| p.into_inner());
        c.stdin = None;
        answered?;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            match c.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(AdapterError::Protocol(format!(
                        "adapter exited with {status} after shutdown"
                    )))
                }
                Ok(None) => {
                    // Bounded by the deadline above; the child needs a moment to exit.
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    return Err(AdapterError::Protocol(format!(
                        "waiting for the adapter: {e}"
                    )))
                }
            }
        }
        let _ = c.child.kill();
        Err(AdapterError::Protocol(
            "adapter did not exit within 10 s after shutdown".into(),
        ))
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        let c = self
            .conversation
            .get_mut()
            .unwrap_or_else(|p| p.into_inner());
        c.stdin = None;
        if let Ok(None) = c.child.try_wait() {
            let _ = c.child.kill();
        }
        let _ = c.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, expected: Result<Value, (ErrorClass, &str)>) {
        let r: Response = serde_json::from_str(line).expect("parses");
        let got = match (r.ok, r.result, r.error) {
            (true, result, _) => Ok(result.unwrap_or(Value::Null)),
            (false, _, Some(e)) => Err((e.class, e.message)),
            other => panic!("neither result nor error: {other:?}"),
        };
        let expected = expected.map_err(|(c, m)| (c, m.to_string()));
        assert_eq!(got, expected, "line: {line}");
    }

    #[test]
    fn responses_parse() {
        check(r#"{"id":1,"ok":true,"result":{}}"#, Ok(json!({})));
        check(r#"{"id":2,"ok":true}"#, Ok(Value::Null));
        for class in [
            ErrorClass::NotFound,
            ErrorClass::Disabled,
            ErrorClass::BadLocation,
            ErrorClass::StorageFull,
            ErrorClass::SizeMismatch,
            ErrorClass::Invalid,
            ErrorClass::Backend,
            ErrorClass::Unsupported,
        ] {
            let line =
                format!(r#"{{"id":3,"ok":false,"error":{{"class":"{class}","message":"m"}}}}"#);
            check(&line, Err((class, "m")));
        }
    }

    #[test]
    fn unknown_class_is_rejected() {
        let r = serde_json::from_str::<Response>(
            r#"{"id":1,"ok":false,"error":{"class":"nope","message":""}}"#,
        );
        assert!(r.is_err(), "{r:?}");
    }

    #[test]
    fn store_wire_shape() {
        let s: Store = serde_json::from_value(json!({"name": "fast", "type": "glance-fast",
            "default": true, "state": "disabled", "reason": "r"}))
        .expect("parses");
        assert_eq!(
            s,
            Store {
                name: "fast".into(),
                volume_type: Some("glance-fast".into()),
                default: true,
                state: StoreState::Disabled,
                reason: Some("r".into()),
            }
        );
    }
}
