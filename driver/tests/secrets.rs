//! Credentials (passwords, application-credential secrets, tokens) never reach error
//! text or logs — even when Keystone or Cinder (or a proxy in front of them) echo the
//! request back in an error body, and when the auth URL carries user info.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cinderbox_driver::client::CinderClient;
use cinderbox_driver::{DriverError, GlanceConfig, Stores};

const PASSWORD: &str = "pw-Zebra-7781-SECRET";
const APP_SECRET: &str = "ac-Quokka-4412-SECRET";
const TOKEN: &str = "tok-Narwhal-9931-SECRET";
const SECRETS: [&str; 3] = [PASSWORD, APP_SECRET, TOKEN];

/// Runs `f` under a subscriber of its own (every level) and returns what it logged: each
/// test sees only its own lines, never those of a test running beside it. Threads the
/// driver spawns inherit the subscriber (`Stores::stores` checks stores in parallel).
fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || Sink(writer.clone()))
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
    (out, text)
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} shows a credential: {text}");
    }
}

fn assert_logs_clean(text: &str) {
    assert!(
        !text.is_empty(),
        "nothing was logged: the test would prove nothing"
    );
    assert_clean("the log", text);
}

#[derive(Clone, Copy, PartialEq)]
enum Keystone {
    /// 401 whose message repeats the request, password included.
    RejectEchoing,
    /// A token (`TOKEN`) and a catalog pointing at the same server's Cinder.
    Accept,
}

/// A fake Keystone + Cinder. Cinder answers `cinder_status` with a body that repeats
/// every request header, `X-Auth-Token` included. Serves a bounded number of requests.
fn fake_cloud(keystone: Keystone, cinder_status: u16) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let catalog_url = format!("{base}/volume/v3/p1");
    std::thread::spawn(move || {
        for conn in listener.incoming().take(500) {
            let Ok(mut conn) = conn else { continue };
            let request = read_request(&mut conn);
            let echo = request.replace(['"', '\\'], "'");
            let (status, extra, body) = if request.contains("/auth/tokens") {
                match keystone {
                    Keystone::RejectEchoing => (
                        401,
                        String::new(),
                        format!(
                            r#"{{"error": {{"code": 401, "title": "Unauthorized", "message": "rejected: {echo}"}}}}"#
                        ),
                    ),
                    Keystone::Accept => (
                        201,
                        format!("X-Subject-Token: {TOKEN}\r\n"),
                        format!(
                            r#"{{"token": {{"expires_at": "2099-01-01T00:00:00Z", "issued_at": "2020-01-01T00:00:00Z",
                               "project": {{"id": "p1", "name": "service"}},
                               "catalog": [{{"type": "volumev3", "name": "cinderv3", "endpoints": [
                                 {{"interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": "{catalog_url}"}}]}}]}}}}"#
                        ),
                    ),
                }
            } else {
                (
                    cinder_status,
                    "Retry-After: 0\r\n".to_string(),
                    format!(
                        r#"{{"computeFault": {{"code": {cinder_status}, "message": "echo: {echo}"}}}}"#
                    ),
                )
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    base
}

fn read_request(conn: &mut TcpStream) -> String {
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    for _ in 0..1000 {
        let Ok(n) = conn.read(&mut chunk) else { break };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                break;
            }
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn config(auth_address: &str, credentials: &str) -> GlanceConfig {
    let text = format!(
        "[DEFAULT]\nenabled_backends = fast:cinder\n[glance_store]\ndefault_backend = fast\n\
         [fast]\ncinder_volume_type = glance-fast\ncinder_http_retries = 1\n\
         cinder_state_transition_timeout = 2\ncinder_store_auth_address = {auth_address}\n{credentials}"
    );
    GlanceConfig::parse("secrets.conf", &text).unwrap()
}

fn password_creds() -> String {
    format!(
        "cinder_store_user_name = glance\ncinder_store_password = {PASSWORD}\n\
         cinder_store_project_name = service\n"
    )
}

fn app_creds() -> String {
    format!(
        "cinder_store_application_credential_id = ac-id\n\
         cinder_store_application_credential_secret = {APP_SECRET}\n"
    )
}

fn client(config: &GlanceConfig) -> CinderClient {
    let options = config.backends[0].cinder.as_ref().unwrap();
    CinderClient::new("fast", options).unwrap()
}

fn check_error(what: &str, e: &DriverError) {
    assert_clean(what, &e.to_string());
    assert_clean(what, &format!("{e:?}"));
}

#[test]
fn configs_never_print_their_secrets() {
    for creds in [password_creds(), app_creds()] {
        let config = config("http://127.0.0.1:9/identity/v3", &creds);
        assert_clean("Debug of the config", &format!("{config:?}"));
        assert_clean(
            "Debug of the options",
            &format!("{:?}", config.backends[0].cinder),
        );
    }
    // Broken configs around a secret: the error names the key, never the value.
    let broken = [
        format!("cinder_store_password = {PASSWORD}\n[DEFAULT]\n"),
        format!("[DEFAULT]\nenabled_backends = fast:cinder\n[fast]\ncinder_store_password = {PASSWORD}\n"),
        format!(
            "[DEFAULT]\nenabled_backends = fast:cinder\n[glance_store]\ndefault_backend = fast\n[fast]\n\
             cinder_store_password = {PASSWORD}\ncinder_http_retries = many\n"
        ),
        format!(
            "[DEFAULT]\nenabled_backends = fast:cinder\n[glance_store]\ndefault_backend = fast\n[fast]\n\
             cinder_store_application_credential_secret = {APP_SECRET}\ncinder_store_auth_address = not a url\n"
        ),
        format!("[fast]\n{PASSWORD}\n"),
    ];
    for text in &broken {
        let e = GlanceConfig::parse("broken.conf", text).expect_err(text);
        assert_clean("a config error", &e.to_string());
        assert_clean("a config error", &format!("{e:?}"));
    }
}

#[test]
fn failed_authentication_shows_no_password_or_secret() {
    let base = fake_cloud(Keystone::RejectEchoing, 500);
    let ((), log) = logged(|| {
        for creds in [password_creds(), app_creds()] {
            let config = config(&format!("{base}/identity/v3"), &creds);
            let e = client(&config).project_id().unwrap_err();
            assert!(matches!(e, DriverError::Auth { .. }), "{e}");
            check_error("a failed authentication", &e);
            // The whole store set logs its state, with the reason.
            let stores = Stores::configure(config).unwrap();
            for info in stores.stores() {
                assert_clean("a store's state", &format!("{info:?}"));
            }
        }
    });
    assert!(log.contains("store not writable"), "{log}");
    assert_logs_clean(&log);
}

/// User info in the auth URL would be printed with it: such a config is refused,
/// and the refusal does not repeat the value.
#[test]
fn an_auth_url_with_user_info_is_refused_without_repeating_it() {
    for address in [
        format!("http://glance:{PASSWORD}@127.0.0.1:9/identity/v3"),
        format!("http://glance:{PASSWORD}@bad host/identity/v3"),
        format!("http://{PASSWORD}@127.0.0.1:9/"),
    ] {
        let text = format!(
            "[DEFAULT]\nenabled_backends = fast:cinder\n[glance_store]\ndefault_backend = fast\n\
             [fast]\ncinder_volume_type = t\ncinder_store_auth_address = {address}\n{}",
            password_creds()
        );
        let e = GlanceConfig::parse("userinfo.conf", &text).expect_err(&address);
        assert!(e.to_string().contains("cinder_store_auth_address"), "{e}");
        assert_clean("a config error", &e.to_string());
        assert_clean("a config error", &format!("{e:?}"));
    }
    // Nothing listens on port 9: the unreachable error names the URL, which is clean.
    let config = config("http://127.0.0.1:9/identity/v3", &password_creds());
    let e = client(&config).project_id().unwrap_err();
    assert!(matches!(e, DriverError::Unreachable { .. }), "{e}");
    check_error("an unreachable Keystone", &e);
}

#[test]
fn cinder_failures_show_no_token() {
    let ((), log) = logged(|| {
        for status in [500, 503, 401, 403, 413, 404] {
            let base = fake_cloud(Keystone::Accept, status);
            let config = config(&format!("{base}/identity/v3"), &password_creds());
            let c = client(&config);
            let e = c
                .show_volume("b31e69eb-fbee-47b3-b315-f9865143c03c")
                .unwrap_err();
            check_error(&format!("a Cinder {status}"), &e);
            let e = c
                .delete_volume("b31e69eb-fbee-47b3-b315-f9865143c03c")
                .unwrap_err();
            check_error(&format!("a Cinder {status} on delete"), &e);
        }
    });
    assert_logs_clean(&log);
}
