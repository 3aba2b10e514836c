//! The access log of the real binary: one `info` line per request at the default level
//! (target `cinderbox::access`, with operation, method, path, status, latency, request id
//! and the rule that fired), no colour codes when stderr is not a terminal, and never a
//! token or a password.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{client, issue_token};

const PASSWORD: &str = "Hunter2-never-in-any-log";

/// Kills the child even when an assertion fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn one_line_per_request_without_colours_tokens_or_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let world = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/emulator.toml"),
    )
    .unwrap()
    .replace("password = \"demo\"", &format!("password = \"{PASSWORD}\""));
    std::fs::write(dir.path().join("world.toml"), world).unwrap();
    let ready = dir.path().join("ready");
    let log_path = dir.path().join("stderr.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cinderbox-emulator"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(dir.path().join("world.toml"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--ready-file")
        .arg(&ready)
        .arg("--scenario")
        .arg(dir.path().join("scenario.toml"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap());
    std::fs::write(
        dir.path().join("scenario.toml"),
        "[[rule]]\nid = \"second-list-fails\"\noperation = \"volume.list\"\neffect = \"503\"\ntrigger = { nth = 2 }\n",
    )
    .unwrap();
    let mut child = Child(cmd.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let base = loop {
        if let Ok(t) = std::fs::read_to_string(&ready) {
            if t.ends_with('\n') {
                break t.trim().to_string();
            }
        }
        assert!(child.0.try_wait().unwrap().is_none(), "emulator exited");
        assert!(Instant::now() < deadline, "emulator never ready");
        std::thread::sleep(Duration::from_millis(50));
    };

    let (token, body) = issue_token(&base, "demo", PASSWORD, "demo");
    let project = body["token"]["project"]["id"].as_str().unwrap();
    let http = client();
    let list = |expect: u16| {
        let r = http
            .get(format!(
                "{base}/volume/v3/{project}/volumes?name={PASSWORD}"
            ))
            .header("X-Auth-Token", &token)
            .send()
            .unwrap();
        assert_eq!(r.status(), expect);
        r.headers()["x-openstack-request-id"]
            .to_str()
            .unwrap()
            .to_string()
    };
    let first = list(200);
    let second = list(503);
    // A write, with a body.
    let r = http
        .post(format!("{base}/volume/v3/{project}/volumes"))
        .header("X-Auth-Token", &token)
        .json(&json!({"volume": {"size": 1, "name": "logged"}}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);

    // The lines are written as each response goes; wait for the fourth.
    let deadline = Instant::now() + Duration::from_secs(30);
    let log = loop {
        let log = std::fs::read_to_string(&log_path).unwrap();
        if log.matches("cinderbox::access").count() >= 4 {
            break log;
        }
        assert!(Instant::now() < deadline, "no access lines: {log}");
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(child);
    let access: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("cinderbox::access"))
        .collect();
    assert_eq!(access.len(), 4, "{log}");
    assert!(access.iter().all(|l| l.contains(" INFO ")), "{log}");
    assert!(
        access[0].contains("operation=keystone.token.create")
            && access[0].contains("method=POST path=/identity/v3/auth/tokens status=201"),
        "{}",
        access[0]
    );
    let ok = access[1];
    assert!(ok.contains("operation=volume.list method=GET"), "{ok}");
    assert!(
        ok.contains(&format!("path=/volume/v3/{project}/volumes status=200")),
        "{ok}"
    );
    assert!(ok.contains(&format!("request_id={first}")), "{ok}");
    assert!(ok.contains("rule=-") && ok.contains("latency_ms="), "{ok}");
    let fired = access[2];
    assert!(fired.contains("status=503"), "{fired}");
    assert!(fired.contains(&format!("request_id={second}")), "{fired}");
    assert!(fired.contains("rule=second-list-fails"), "{fired}");
    assert!(access[3].contains("operation=volume.create") && access[3].contains("status=202"));

    assert!(!log.contains('\u{1b}'), "colour codes in a file: {log:?}");
    assert!(!log.contains(&token), "a token in the log: {log}");
    assert!(!log.contains(PASSWORD), "a password in the log: {log}");
}
