//! Hostile input at every route: malformed JSON, wrong types, huge and negative numbers,
//! deep nesting, oversized bodies, odd characters, non-UUID ids, `..` and `/` (raw and
//! percent-encoded) in path segments, unknown microversions, missing and duplicate
//! headers. Never a 5xx, never a dropped connection, an OpenStack error body on every
//! 4xx, and the state (all volumes, all types) unchanged.
//!
//! Requests go over a raw TCP client so that paths reach the server byte for byte
//! (an URL library would normalise `..` and `%2e%2e` away). `CINDERBOX_LONG=1` runs
//! many more cases.

use crate::common;

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{spawn_emulator, Api, Env};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

thread_local! {
    /// Requests sent and 5xx-or-dropped answers seen by this test's thread.
    static TRIED: Cell<u64> = const { Cell::new(0) };
    static SERVER_ERRORS: Cell<u64> = const { Cell::new(0) };
}

fn bump(counter: &'static std::thread::LocalKey<Cell<u64>>, n: u64) {
    counter.with(|c| c.set(c.get() + n));
}

/// One line with this test's figures, for docs/reliability.md.
fn report(test: &str) {
    println!(
        "{test}: {} malformed requests tried, {} answered 5xx or dropped",
        TRIED.with(Cell::get),
        SERVER_ERRORS.with(Cell::get)
    );
}

fn long_run() -> bool {
    std::env::var("CINDERBOX_LONG").is_ok_and(|v| v == "1")
}

/// One request exactly as it goes on the wire.
#[derive(Debug, Clone)]
struct Raw {
    method: String,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends one request on a fresh connection and reads the whole answer. `None` when the
/// server closed the connection without answering (a panic or a crash).
fn send(addr: std::net::SocketAddr, req: &Raw) -> Option<Answer> {
    bump(&TRIED, 1);
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!("{} {} HTTP/1.1\r\nHost: {addr}\r\n", req.method, req.path).into_bytes();
    for (k, v) in &req.headers {
        head.extend_from_slice(k.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(v);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            req.body.len()
        )
        .as_bytes(),
    );
    s.write_all(&head).ok()?;
    // The server may answer (413, 401, 404) before reading a large body and close.
    let _ = s.write_all(&req.body);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse_answer(&buf)
}

fn parse_answer(buf: &[u8]) -> Option<Answer> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body)?;
    }
    Some(Answer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for _ in 0..100_000 {
        let nl = b.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&b[..nl]).ok()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(nl + 2..nl + 2 + size)?);
        b = b.get(nl + 4 + size..)?;
    }
    None
}

/// An OpenStack error body: Cinder's `{"<fault>": {"code", "message"}}` or Keystone's
/// `{"error": {"code", "title", "message"}}`, with `code` equal to the status.
fn is_openstack_error(a: &Answer) -> bool {
    let Value::Object(top) = a.json() else {
        return false;
    };
    top.len() == 1
        && top
            .values()
            .all(|inner| inner["code"] == json!(a.status) && inner["message"].as_str().is_some())
}

/// Checks the rules every answer must follow; returns it for more specific checks.
fn checked(addr: std::net::SocketAddr, req: &Raw) -> Result<Answer, TestCaseError> {
    let Some(a) = send(addr, req) else {
        bump(&SERVER_ERRORS, 1);
        return Err(TestCaseError::fail(format!(
            "no answer (connection dropped) to {} {}",
            req.method, req.path
        )));
    };
    if a.status >= 500 {
        bump(&SERVER_ERRORS, 1);
        return Err(TestCaseError::fail(format!(
            "{} to {} {} (body {:?})",
            a.status,
            req.method,
            req.path,
            String::from_utf8_lossy(&req.body)
                .chars()
                .take(300)
                .collect::<String>()
        )));
    }
    if a.status >= 400 && req.method != "HEAD" && !is_openstack_error(&a) {
        return Err(TestCaseError::fail(format!(
            "{} to {} {} without an OpenStack error body: {:?}",
            a.status,
            req.method,
            req.path,
            String::from_utf8_lossy(&a.body)
        )));
    }
    Ok(a)
}

/// Everything a hostile request could have changed.
fn snapshot(admin: &Api) -> Value {
    let admin = admin.at("3.60");
    let (c1, vols) = admin.get("/volumes/detail?all_tenants=1");
    let (c2, types) = admin.get("/types?is_public=None");
    assert_eq!((c1, c2), (200, 200), "the server still answers");
    json!({"volumes": vols, "types": types})
}

struct World {
    env: Env,
    admin: Api,
    token: String,
    project: String,
    volume_id: String,
    type_id: String,
}

fn world() -> World {
    let env = spawn_emulator();
    let admin = env.admin();
    let volume_id = admin.available_volume(1, None);
    let (code, _) = admin.post(
        &format!("/volumes/{volume_id}/metadata"),
        json!({"metadata": {"k": "v"}}),
    );
    assert_eq!(code, 200);
    let (code, body) = admin.get("/types/default");
    assert_eq!(code, 200);
    let type_id = body["volume_type"]["id"].as_str().unwrap().to_string();
    World {
        token: admin.token.clone(),
        project: admin.project_id.clone(),
        admin,
        env,
        volume_id,
        type_id,
    }
}

/// Route templates under `/volume/v3/{project}`: method, path, and the top-level key
/// of the body it takes (if any).
const ROUTES: &[(&str, &str, Option<&str>)] = &[
    ("GET", "", None),
    ("GET", "/volumes", None),
    ("POST", "/volumes", Some("volume")),
    ("GET", "/volumes/detail", None),
    ("GET", "/volumes/summary", None),
    ("GET", "/volumes/{vid}", None),
    ("PUT", "/volumes/{vid}", Some("volume")),
    ("DELETE", "/volumes/{vid}", None),
    ("POST", "/volumes/{vid}/action", Some("os-extend")),
    ("GET", "/volumes/{vid}/metadata", None),
    ("POST", "/volumes/{vid}/metadata", Some("metadata")),
    ("PUT", "/volumes/{vid}/metadata", Some("metadata")),
    ("GET", "/volumes/{vid}/metadata/{key}", None),
    ("PUT", "/volumes/{vid}/metadata/{key}", Some("meta")),
    ("DELETE", "/volumes/{vid}/metadata/{key}", None),
    ("GET", "/types", None),
    ("POST", "/types", Some("volume_type")),
    ("GET", "/types/default", None),
    ("GET", "/types/{tid}", None),
    ("PUT", "/types/{tid}", Some("volume_type")),
    ("DELETE", "/types/{tid}", None),
    ("GET", "/types/{tid}/extra_specs", None),
    ("POST", "/types/{tid}/extra_specs", Some("extra_specs")),
    ("GET", "/types/{tid}/extra_specs/{key}", None),
    ("PUT", "/types/{tid}/extra_specs/{key}", Some("{key}")),
    ("DELETE", "/types/{tid}/extra_specs/{key}", None),
    ("GET", "/types/{tid}/os-volume-type-access", None),
    ("POST", "/types/{tid}/action", Some("addProjectAccess")),
    ("GET", "/attachments", None),
    ("POST", "/attachments", Some("attachment")),
    ("GET", "/attachments/detail", None),
    ("GET", "/attachments/{aid}", None),
    ("PUT", "/attachments/{aid}", Some("attachment")),
    ("DELETE", "/attachments/{aid}", None),
    ("POST", "/attachments/{aid}/action", Some("os-complete")),
    ("GET", "/limits", None),
    ("GET", "/os-quota-sets/{pid}", None),
    ("PUT", "/os-quota-sets/{pid}", Some("quota_set")),
    ("DELETE", "/os-quota-sets/{pid}", None),
    ("GET", "/os-quota-sets/{pid}/defaults", None),
    ("GET", "/os-availability-zone", None),
    ("GET", "/extensions", None),
    ("GET", "/types/{tid}/encryption", None),
    ("POST", "/types/{tid}/encryption", Some("encryption")),
    ("GET", "/types/{tid}/encryption/{key}", None),
    ("PUT", "/types/{tid}/encryption/{key}", Some("encryption")),
    ("DELETE", "/types/{tid}/encryption/{key}", None),
    ("GET", "/group_types", None),
    ("POST", "/group_types", Some("group_type")),
    ("GET", "/group_types/default", None),
    ("GET", "/group_types/{aid}", None),
    ("PUT", "/group_types/{aid}", Some("group_type")),
    ("DELETE", "/group_types/{aid}", None),
    ("GET", "/group_types/{aid}/group_specs", None),
    (
        "POST",
        "/group_types/{aid}/group_specs",
        Some("group_specs"),
    ),
    ("GET", "/group_types/{aid}/group_specs/{key}", None),
    ("PUT", "/group_types/{aid}/group_specs/{key}", Some("{key}")),
    ("DELETE", "/group_types/{aid}/group_specs/{key}", None),
    ("GET", "/groups", None),
    ("GET", "/groups/detail", None),
    ("POST", "/groups", Some("group")),
    ("GET", "/groups/{aid}", None),
    ("PUT", "/groups/{aid}", Some("group")),
    ("POST", "/groups/{aid}/action", Some("delete")),
    ("GET", "/os-services", None),
    ("PUT", "/os-services/enable", Some("host")),
    ("PUT", "/os-services/disable", Some("host")),
    (
        "PUT",
        "/os-services/disable-log-reason",
        Some("disabled_reason"),
    ),
    ("PUT", "/os-services/freeze", Some("host")),
    ("PUT", "/os-services/thaw", Some("host")),
    ("PUT", "/os-services/{key}", Some("host")),
    ("GET", "/qos-specs", None),
    ("POST", "/qos-specs", Some("qos_specs")),
    ("GET", "/qos-specs/{aid}", None),
    ("PUT", "/qos-specs/{aid}", Some("qos_specs")),
    ("DELETE", "/qos-specs/{aid}", None),
    ("PUT", "/qos-specs/{aid}/delete_keys", Some("keys")),
    ("GET", "/qos-specs/{aid}/associations", None),
    ("GET", "/qos-specs/{aid}/associate", None),
    ("GET", "/qos-specs/{aid}/disassociate", None),
    ("GET", "/qos-specs/{aid}/disassociate_all", None),
    ("GET", "/scheduler-stats/get_pools", None),
    ("GET", "/capabilities/{key}", None),
    ("GET", "/os-hosts", None),
    ("GET", "/os-hosts/{key}", None),
    ("GET", "/os-volume-transfer", None),
    ("GET", "/os-volume-transfer/detail", None),
    ("POST", "/os-volume-transfer", Some("transfer")),
    ("GET", "/os-volume-transfer/{aid}", None),
    ("DELETE", "/os-volume-transfer/{aid}", None),
    ("POST", "/os-volume-transfer/{aid}/accept", Some("accept")),
    ("GET", "/volume-transfers", None),
    ("GET", "/volume-transfers/detail", None),
    ("POST", "/volume-transfers", Some("transfer")),
    ("GET", "/volume-transfers/{aid}", None),
    ("DELETE", "/volume-transfers/{aid}", None),
    ("POST", "/volume-transfers/{aid}/accept", Some("accept")),
    ("GET", "/messages", None),
    ("GET", "/messages/{aid}", None),
    ("DELETE", "/messages/{aid}", None),
    ("POST", "/groups/action", Some("create-from-src")),
    ("GET", "/group_snapshots", None),
    ("GET", "/group_snapshots/detail", None),
    ("POST", "/group_snapshots", Some("group_snapshot")),
    ("GET", "/group_snapshots/{aid}", None),
    ("DELETE", "/group_snapshots/{aid}", None),
    (
        "POST",
        "/group_snapshots/{aid}/action",
        Some("reset_status"),
    ),
    ("GET", "/backups", None),
    ("GET", "/backups/detail", None),
    ("POST", "/backups", Some("backup")),
    ("POST", "/backups/import_record", Some("backup-record")),
    ("GET", "/backups/{aid}", None),
    ("PUT", "/backups/{aid}", Some("backup")),
    ("DELETE", "/backups/{aid}", None),
    ("POST", "/backups/{aid}/restore", Some("restore")),
    ("POST", "/backups/{aid}/action", Some("os-reset_status")),
    ("GET", "/backups/{aid}/export_record", None),
    ("GET", "/os-quota-class-sets/{key}", None),
    ("PUT", "/os-quota-class-sets/{key}", Some("quota_class_set")),
    ("GET", "/snapshots", None),
    ("GET", "/snapshots/detail", None),
    ("POST", "/snapshots", Some("snapshot")),
    ("GET", "/snapshots/{aid}", None),
    ("PUT", "/snapshots/{aid}", Some("snapshot")),
    ("DELETE", "/snapshots/{aid}", None),
    ("POST", "/snapshots/{aid}/action", Some("os-reset_status")),
    ("GET", "/snapshots/{aid}/metadata", None),
    ("POST", "/snapshots/{aid}/metadata", Some("metadata")),
    ("PUT", "/snapshots/{aid}/metadata", Some("metadata")),
    ("GET", "/snapshots/{aid}/metadata/{key}", None),
    ("PUT", "/snapshots/{aid}/metadata/{key}", Some("meta")),
    ("DELETE", "/snapshots/{aid}/metadata/{key}", None),
    ("GET", "/default-types", None),
    ("PUT", "/default-types/{pid}", Some("default_type")),
    ("GET", "/default-types/{pid}", None),
    ("DELETE", "/default-types/{aid}", None),
    ("GET", "/resource_filters", None),
    ("PATCH", "/volumes", None),
    ("GET", "/nothing/here", None),
];

/// Path segments that must never be taken for a real resource (or a file path).
fn hostile_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("..".to_string()),
        Just("%2e%2e".to_string()),
        Just("%2E%2E%2F%2E%2E%2Fetc%2Fpasswd".to_string()),
        Just("..%2F..%2Fstate.db".to_string()),
        Just("volume-..%2fstate.db".to_string()),
        Just("%2F".to_string()),
        Just("a/b".to_string()),
        Just(".".to_string()),
        Just("%00".to_string()),
        Just("%FF%FE".to_string()),
        Just("%E2%98%83".to_string()),
        Just("%".to_string()),
        Just("%zz".to_string()),
        Just("00000000-0000-0000-0000-000000000000".to_string()),
        Just("B31E69EB-FBEE-47B3-B315-F9865143C03C".to_string()),
        Just("{b31e69eb-fbee-47b3-b315-f9865143c03c}".to_string()),
        Just("b31e69ebfbee47b3b315f9865143c03c".to_string()),
        Just("detail".to_string()),
        Just("x".repeat(5000)),
        "[a-zA-Z0-9._~-]{1,40}",
        any::<Vec<u8>>().prop_map(|b| pct(&b)),
        any::<String>().prop_map(|s| pct(s.as_bytes())),
    ]
}

fn pct(bytes: &[u8]) -> String {
    let mut out = String::new();
    for b in bytes {
        if b.is_ascii_alphanumeric() {
            out.push(*b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("%20");
    }
    out
}

/// A JSON value of any shape, nested a little.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(2147483648u64)),
        Just(json!(1e308)),
        Just(json!("")),
        Just(json!("\u{0000}\u{0007}\u{001b}[31m\r\n")),
        Just(json!("💥 ﷽ \u{202e}rtl")),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A value for a field that must be a positive size, a string or an object: all wrong.
fn wrong_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(-9223372036854775808i64)),
        Just(json!(18446744073709551615u64)),
        Just(json!(1e308)),
        Just(json!(-1e308)),
        Just(json!(1.5)),
        Just(json!("1e3")),
        Just(json!("-4")),
        Just(json!("99999999999999999999999999")),
        Just(json!([1, 2])),
        Just(json!({"nested": {"deeper": [null]}})),
        Just(json!(true)),
        Just(json!("x".repeat(300))),
    ]
}

/// A body the route must refuse: never a well-formed request.
fn hostile_body(key: Option<&'static str>) -> BoxedStrategy<Vec<u8>> {
    let key = key.unwrap_or("volume");
    let invalid_json = prop_oneof![
        Just(b"{".to_vec()),
        Just(b"{\"volume\": ".to_vec()),
        Just(b"\xff\xfe\x00garbage".to_vec()),
        Just(b"null".to_vec()),
        Just(b"[]".to_vec()),
        Just(b"\"string\"".to_vec()),
        Just(b"{\"a\":1,\"a\":2".to_vec()),
        Just(b"NaN".to_vec()),
        any::<Vec<u8>>().prop_filter("not JSON", |b| serde_json::from_slice::<Value>(b).is_err()),
    ];
    let deep = (100usize..3000).prop_map(move |n| {
        let mut s = format!("{{\"{key}\": ");
        s.push_str(&"[".repeat(n));
        s.push_str(&"]".repeat(n));
        s.push('}');
        s.into_bytes()
    });
    // Not an object: `{"volume": {"nested": …}}` is a valid volume update below 3.53
    // (Cinder ignores unknown keys there); objects come from `wrong_inner`.
    let wrong_top = wrong_value()
        .prop_filter("an object may be a valid body", |v| !v.is_object())
        .prop_map(move |v| json!({ key: v }).to_string().into_bytes());
    let wrong_inner = (
        prop::sample::select(vec![
            "size",
            "new_size",
            // not "name": a string name makes `{"qos_specs": {"name": "…", …}}` a valid
            // create, where Cinder's schema takes any other key as a spec
            // (`additionalProperties: True`); `name: [1]` stays wrong for every route
            "volume_type",
            "metadata",
            "connector",
            "volume_uuid",
            "volumes",
            "gigabytes",
            "project",
            "status",
        ]),
        wrong_value(),
    )
        .prop_map(move |(field, v)| {
            // Every known field is wrong, so no microversion can accept the body.
            let mut inner = json!({"name": [1], "size": -1, "new_size": -1, "volumes": "x"});
            inner[field] = v;
            json!({ key: inner }).to_string().into_bytes()
        });
    let bad_metadata = prop_oneof![
        Just(json!({"metadata": {"": "empty key"}})),
        Just(json!({"metadata": {"k": 5}})),
        Just(json!({"metadata": {"k": null}})),
        Just(json!({"metadata": {"k": "v".repeat(256)}})),
        Just(json!({"metadata": ["k", "v"]})),
        Just(json!({"meta": {"a": "1", "b": "2"}})),
        Just(json!({"meta": {}})),
    ]
    .prop_map(|v| v.to_string().into_bytes());
    let garbage_object = any_json()
        .prop_filter("not an object with the key", move |v| {
            !v.as_object().is_some_and(|o| o.contains_key(key))
        })
        .prop_map(|v| v.to_string().into_bytes());
    let oversized = Just(
        json!({ key: {"name": "x".repeat(cinderbox_emulator::cinder::MAX_BODY_BYTES)} })
            .to_string()
            .into_bytes(),
    );
    prop_oneof![
        3 => invalid_json,
        1 => deep,
        3 => wrong_top,
        3 => wrong_inner,
        2 => bad_metadata,
        2 => garbage_object,
        1 => oversized,
    ]
    .boxed()
}

/// Hostile or merely odd header values.
fn header_variant() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let mv = prop_oneof![
        Just(None),
        Just(Some(b"volume 3.999".to_vec())),
        Just(Some(b"volume 4.0".to_vec())),
        Just(Some(b"volume 3.x".to_vec())),
        Just(Some(b"volume -3.1".to_vec())),
        Just(Some(b"volume 3.99999999999999999999".to_vec())),
        Just(Some(b"compute 2.1".to_vec())),
        Just(Some(b"volume latest".to_vec())),
        Just(Some(b"volume 3.0".to_vec())),
        Just(Some(b"volume 3.27".to_vec())),
        Just(Some(b"volume 3.71".to_vec())),
        Just(Some(b"volume \xff\xfe".to_vec())),
        Just(Some(b"".to_vec())),
    ];
    let extra = prop_oneof![
        Just(vec![]),
        Just(vec![("Content-Type".to_string(), b"text/plain".to_vec())]),
        Just(vec![(
            "Content-Type".to_string(),
            b"application/json; charset=latin1".to_vec()
        )]),
        Just(vec![("X-Auth-Token".to_string(), b"garbage".to_vec())]),
        Just(vec![(
            "OpenStack-API-Version".to_string(),
            b"volume 3.1".to_vec()
        )]),
        Just(vec![(
            "X-OpenStack-Volume-API-Version".to_string(),
            b"3.abc".to_vec()
        )]),
        Just(vec![("X-Project-Id".to_string(), b"someone-else".to_vec())]),
        Just(vec![("Accept".to_string(), b"application/xml".to_vec())]),
    ];
    (mv, extra).prop_map(|(mv, extra)| {
        let mut h = vec![("Content-Type".to_string(), b"application/json".to_vec())];
        if let Some(v) = mv {
            h.push(("OpenStack-API-Version".to_string(), v));
        }
        h.extend(extra);
        h
    })
}

/// Bytes shown as (lossy) text in failure reports.
#[derive(Clone, PartialEq)]
struct Shown(Vec<u8>);

impl std::fmt::Debug for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = String::from_utf8_lossy(&self.0).chars().take(200).collect();
        write!(f, "{text:?} ({} bytes)", self.0.len())
    }
}

#[derive(Debug, Clone)]
struct Case {
    route: usize,
    /// Which id to put in `{vid}`/`{tid}`/`{aid}`/`{pid}`: the real one (only for routes
    /// whose body is refused anyway) or a hostile segment.
    real_id: bool,
    segment: String,
    key: String,
    project_segment: Option<String>,
    headers: Vec<(String, Shown)>,
    body: Shown,
    token: TokenKind,
}

#[derive(Debug, Clone, Copy)]
enum TokenKind {
    Valid,
    Missing,
    Duplicate,
}

fn case() -> impl Strategy<Value = Case> {
    (0..ROUTES.len()).prop_flat_map(|route| {
        let (_, _, key) = ROUTES[route];
        (
            any::<bool>(),
            hostile_segment(),
            hostile_segment(),
            prop::option::weighted(0.15, hostile_segment()),
            header_variant(),
            hostile_body(key),
            prop_oneof![
                8 => Just(TokenKind::Valid),
                1 => Just(TokenKind::Missing),
                1 => Just(TokenKind::Duplicate),
            ],
        )
            .prop_map(
                move |(real_id, segment, key, project_segment, headers, body, token)| Case {
                    route,
                    real_id,
                    segment,
                    key,
                    project_segment,
                    headers: headers.into_iter().map(|(k, v)| (k, Shown(v))).collect(),
                    body: Shown(body),
                    token,
                },
            )
    })
}

fn build(w: &World, c: &Case) -> Raw {
    let (method, template, body_key) = ROUTES[c.route];
    // Real ids only where a refused body guards the state; a DELETE or a body-less
    // route would act on them.
    let real = c.real_id && body_key.is_some();
    let id = |real_id: &str| {
        if real {
            real_id.to_string()
        } else {
            c.segment.clone()
        }
    };
    let path = template
        .replace("{vid}", &id(&w.volume_id))
        .replace("{tid}", &id(&w.type_id))
        .replace("{aid}", &c.segment)
        .replace("{pid}", &id(&w.project))
        .replace("{key}", if real { "k" } else { &c.key });
    let project = c
        .project_segment
        .clone()
        .unwrap_or_else(|| w.project.clone());
    let mut headers: Vec<(String, Vec<u8>)> = c
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    match c.token {
        TokenKind::Valid => headers.push(("X-Auth-Token".into(), w.token.clone().into_bytes())),
        TokenKind::Missing => {}
        TokenKind::Duplicate => {
            headers.push(("X-Auth-Token".into(), b"cbx1.forged.sig".to_vec()));
            headers.push(("X-Auth-Token".into(), w.token.clone().into_bytes()));
        }
    }
    Raw {
        method: method.to_string(),
        path: format!("/volume/v3/{project}{path}"),
        headers,
        body: c.body.0.clone(),
    }
}

fn cases(short: u32, long: u32) -> u32 {
    if long_run() {
        long
    } else {
        short
    }
}

#[test]
fn malformed_requests_at_every_cinder_route_are_refused_cleanly() {
    let w = world();
    let addr = w.env.emu.addr;
    let before = snapshot(&w.admin);
    let mut runner = TestRunner::new(Config {
        cases: cases(400, 20_000),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&case(), |c| {
        let req = build(&w, &c);
        let a = checked(addr, &req)?;
        // Cinder deletes quota overrides of any project id it is given (nothing to do
        // for an unknown one), so only that DELETE may succeed here.
        let (_, template, _) = ROUTES[c.route];
        // Likewise a project's default type: unset for any project id (204).
        let mutating = req.method != "GET"
            && req.method != "HEAD"
            && !(req.method == "DELETE" && template == "/os-quota-sets/{pid}")
            && !(req.method == "DELETE" && template == "/default-types/{aid}");
        // Only refused requests are sent to mutating routes.
        prop_assert!(
            !mutating || (400..500).contains(&a.status),
            "{} {} was accepted with {}: {}",
            req.method,
            req.path,
            a.status,
            String::from_utf8_lossy(&a.body)
        );
        if matches!(c.token, TokenKind::Missing) {
            prop_assert_eq!(a.status, 401);
        }
        if c.body.0.len() > cinderbox_emulator::cinder::MAX_BODY_BYTES
            && matches!(c.token, TokenKind::Valid)
            && a.status == 413
        {
            prop_assert_eq!(&a.json()["overLimit"]["code"], &json!(413));
        }
        Ok(())
    });
    let after = snapshot(&w.admin);
    report("hostile cinder routes");
    if let Err(e) = result {
        panic!("{e}");
    }
    assert_eq!(before, after, "a refused request changed the state");
}

/// Specific refusals, with the exact status Cinder gives.
#[test]
fn each_kind_of_malformed_request_gets_its_own_status() {
    let w = world();
    let addr = w.env.emu.addr;
    let before = snapshot(&w.admin);
    let p = &w.project;
    let v = &w.volume_id;
    let auth = || vec![("X-Auth-Token".to_string(), w.token.clone().into_bytes())];
    let req = |method: &str, path: String, headers: Vec<(String, Vec<u8>)>, body: &[u8]| Raw {
        method: method.into(),
        path,
        headers,
        body: body.to_vec(),
    };
    let with = |extra: (&str, &[u8])| {
        let mut h = auth();
        h.push((extra.0.to_string(), extra.1.to_vec()));
        h
    };
    let big = vec![b' '; cinderbox_emulator::cinder::MAX_BODY_BYTES + 1];
    let deep = format!("{{\"volume\": {}{}}}", "[".repeat(5000), "]".repeat(5000));
    let table: Vec<(Raw, u16, &str)> = vec![
        (
            req("GET", format!("/volume/v3/{p}/volumes"), vec![], b""),
            401,
            "error",
        ),
        (
            req(
                "GET",
                format!("/volume/v3/{p}/volumes"),
                vec![("X-Auth-Token".into(), b"\xff\xfe".to_vec())],
                b"",
            ),
            401,
            "error",
        ),
        (
            req(
                "GET",
                format!("/volume/v3/{p}/volumes"),
                with(("OpenStack-API-Version", b"volume 3.999")),
                b"",
            ),
            406,
            "computeFault",
        ),
        (
            req(
                "GET",
                format!("/volume/v3/{p}/volumes"),
                with(("OpenStack-API-Version", b"volume 3.x")),
                b"",
            ),
            400,
            "badRequest",
        ),
        (
            req(
                "GET",
                format!("/volume/v3/{p}/volumes"),
                with(("OpenStack-API-Version", b"volume 9.0")),
                b"",
            ),
            406,
            "computeFault",
        ),
        (
            req("POST", format!("/volume/v3/{p}/volumes"), auth(), b"{"),
            400,
            "badRequest",
        ),
        (
            req(
                "POST",
                format!("/volume/v3/{p}/volumes"),
                auth(),
                deep.as_bytes(),
            ),
            400,
            "badRequest",
        ),
        (
            req("POST", format!("/volume/v3/{p}/volumes"), auth(), &big),
            413,
            "overLimit",
        ),
        (
            req(
                "POST",
                format!("/volume/v3/{p}/volumes"),
                auth(),
                br#"{"volume": {"size": -1}}"#,
            ),
            400,
            "badRequest",
        ),
        (
            req(
                "POST",
                format!("/volume/v3/{p}/volumes"),
                auth(),
                br#"{"volume": {"size": 1e400}}"#,
            ),
            400,
            "badRequest",
        ),
        (
            req(
                "POST",
                format!("/volume/v3/{p}/volumes"),
                auth(),
                br#"{"volume": {"size": 99999999999999999999999}}"#,
            ),
            400,
            "badRequest",
        ),
        (
            req(
                "POST",
                format!("/volume/v3/{p}/volumes"),
                auth(),
                br#"{"volume": {"size": "1", "name": 7}}"#,
            ),
            400,
            "badRequest",
        ),
        (
            req(
                "POST",
                format!("/volume/v3/{p}/volumes/{v}/action"),
                auth(),
                br#"{"os-extend": {"new_size": -5}}"#,
            ),
            400,
            "badRequest",
        ),
        (
            req(
                "POST",
                format!("/volume/v3/{p}/volumes/{v}/action"),
                auth(),
                br#"{"os-frobnicate": null}"#,
            ),
            400,
            "badRequest",
        ),
        (
            req(
                "PUT",
                format!("/volume/v3/{p}/volumes/{v}/metadata"),
                auth(),
                br#"{"metadata": {"k": 1}}"#,
            ),
            400,
            "badRequest",
        ),
        (
            req(
                "PUT",
                format!("/volume/v3/{p}/volumes/{v}/metadata/k"),
                auth(),
                br#"{"meta": {"other": "x"}}"#,
            ),
            400,
            "badRequest",
        ),
        (
            req(
                "GET",
                format!("/volume/v3/{p}/volumes/..%2F..%2Fstate.db"),
                auth(),
                b"",
            ),
            404,
            "itemNotFound",
        ),
        (
            req("GET", format!("/volume/v3/{p}/volumes/%2e%2e"), auth(), b""),
            404,
            "itemNotFound",
        ),
        (
            req(
                "GET",
                format!("/volume/v3/{p}/volumes/not-a-uuid"),
                auth(),
                b"",
            ),
            404,
            "itemNotFound",
        ),
        (
            req(
                "DELETE",
                format!("/volume/v3/{p}/volumes/not-a-uuid"),
                auth(),
                b"",
            ),
            404,
            "itemNotFound",
        ),
        (
            req(
                "GET",
                format!("/volume/v3/{p}/volumes/{v}/metadata/%2e%2e"),
                auth(),
                b"",
            ),
            404,
            "itemNotFound",
        ),
        (
            req(
                "GET",
                "/volume/v3/someone-else/volumes".to_string(),
                auth(),
                b"",
            ),
            400,
            "badRequest",
        ),
        (
            req("PATCH", format!("/volume/v3/{p}/volumes/{v}"), auth(), b""),
            405,
            "badMethod",
        ),
        (
            req(
                "GET",
                format!("/volume/v3/{p}/no-such-collection"),
                auth(),
                b"",
            ),
            404,
            "itemNotFound",
        ),
        (
            req("POST", "/identity/v3/auth/tokens".into(), vec![], b"{"),
            400,
            "error",
        ),
        (
            req(
                "POST",
                "/identity/v3/auth/tokens".into(),
                vec![],
                b"{\"auth\": 5}",
            ),
            400,
            "error",
        ),
        (
            req("POST", "/identity/v3/auth/tokens".into(), vec![], &big),
            413,
            "error",
        ),
        (
            req("GET", "/nothing".into(), vec![], b""),
            404,
            "itemNotFound",
        ),
    ];
    for (r, status, key) in &table {
        let a = checked(addr, r).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            a.status,
            *status,
            "{} {}: {}",
            r.method,
            r.path,
            String::from_utf8_lossy(&a.body)
        );
        assert!(
            a.json().get(*key).is_some(),
            "{} {}: expected a {key:?} error body, got {}",
            r.method,
            r.path,
            String::from_utf8_lossy(&a.body)
        );
    }
    // Duplicate headers: the first one counts, and nothing breaks.
    let dup = req(
        "GET",
        format!("/volume/v3/{p}/volumes"),
        vec![
            ("X-Auth-Token".into(), w.token.clone().into_bytes()),
            ("X-Auth-Token".into(), b"garbage".to_vec()),
            ("OpenStack-API-Version".into(), b"volume 3.10".to_vec()),
            ("OpenStack-API-Version".into(), b"volume 3.999".to_vec()),
        ],
        b"",
    );
    let a = checked(addr, &dup).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.status, 200);
    report("hostile table");
    assert!(a
        .headers
        .iter()
        .any(|(k, v)| k == "openstack-api-version" && v == "volume 3.10"));
    assert_eq!(before, snapshot(&w.admin));
}

#[test]
fn malformed_identity_requests_are_refused_cleanly() {
    let w = world();
    let addr = w.env.emu.addr;
    let routes = [
        ("POST", "/identity/v3/auth/tokens"),
        ("GET", "/identity/v3/auth/tokens"),
        ("HEAD", "/identity/v3/auth/tokens"),
        ("DELETE", "/identity/v3/auth/tokens"),
        ("GET", "/identity/v3/auth/catalog"),
        ("GET", "/identity/v3"),
        ("PUT", "/identity/v3/auth/tokens"),
    ];
    let auth_body = prop_oneof![
        hostile_body(Some("auth")),
        any_json().prop_map(|v| json!({"auth": {"identity": v}}).to_string().into_bytes()),
        (any_json(), any_json()).prop_map(|(user, scope)| json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": scope}})
        .to_string()
        .into_bytes()),
        ".{0,40}".prop_map(|pw: String| json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"name": "Default"}, "password": pw}}}}})
        .to_string()
        .into_bytes()),
    ];
    let strategy = (
        0..routes.len(),
        auth_body,
        prop_oneof![
            Just(None),
            hostile_segment().prop_map(|s| Some(s.into_bytes())),
            Just(Some(w.token.clone().into_bytes()))
        ],
        prop_oneof![
            Just(None),
            hostile_segment().prop_map(|s| Some(s.into_bytes())),
            Just(Some(b"cbx1.e30.AAAA".to_vec())),
        ],
    );
    let before = snapshot(&w.admin);
    let mut runner = TestRunner::new(Config {
        cases: cases(200, 10_000),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |(route, body, token, subject)| {
        let (method, path) = routes[route];
        let mut headers = vec![("Content-Type".to_string(), b"application/json".to_vec())];
        if let Some(t) = token {
            headers.push(("X-Auth-Token".into(), t));
        }
        if let Some(s) = subject {
            headers.push(("X-Subject-Token".into(), s));
        }
        let req = Raw {
            method: method.into(),
            path: path.into(),
            headers,
            body: body.clone(),
        };
        let a = checked(addr, &req)?;
        // No subject token here is valid, so nothing is revoked or validated.
        prop_assert!(
            method == "POST"
                || method == "GET" && path != "/identity/v3/auth/tokens"
                || a.status >= 400,
            "{method} {path} answered {}",
            a.status
        );
        Ok(())
    });
    report("hostile identity routes");
    if let Err(e) = result {
        panic!("{e}");
    }
    assert_eq!(before, snapshot(&w.admin));
}

/// Unicode and control characters are legal in names, descriptions and metadata
/// values: whatever is accepted comes back byte for byte; whatever is refused is a 400.
#[test]
fn odd_characters_in_names_and_metadata_round_trip_or_are_refused() {
    let env = spawn_emulator();
    let admin = env.admin().at("3.60");
    let id = admin.available_volume(1, None);
    let strategy = (any::<String>(), ".{1,20}", any::<String>());
    let mut runner = TestRunner::new(Config {
        cases: cases(100, 5_000),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |(name, key, value)| {
        bump(&TRIED, 3);
        let (code, body) = admin.put(
            &format!("/volumes/{id}"),
            json!({"volume": {"name": name, "description": name}}),
        );
        prop_assert!(code == 200 || code == 400, "{code} {body}");
        let (_, shown) = admin.get(&format!("/volumes/{id}"));
        if code == 200 {
            prop_assert_eq!(&shown["volume"]["name"], &json!(name));
            prop_assert_eq!(&shown["volume"]["description"], &json!(name));
        }
        let before = shown["volume"]["metadata"].clone();
        let (code, body) = admin.put(
            &format!("/volumes/{id}/metadata"),
            json!({"metadata": {key.clone(): value.clone()}}),
        );
        prop_assert!(code == 200 || code == 400, "{code} {body}");
        let (_, md) = admin.get(&format!("/volumes/{id}/metadata"));
        if code == 200 {
            prop_assert_eq!(&md["metadata"], &json!({ key: value }));
        } else {
            prop_assert!(body["badRequest"]["message"].is_string());
            prop_assert_eq!(&md["metadata"], &before);
        }
        Ok(())
    });
    report("odd characters");
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The route table above covers every endpoint the emulator has.
#[test]
fn the_route_table_covers_the_catalogue() {
    common::assert_routes_cover_the_catalogue(
        "hostile::ROUTES",
        ROUTES.iter().map(|(m, p, _)| (*m, *p)),
    );
}
