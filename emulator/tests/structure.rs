//! The structure test (like rust-analyzer's tidy test): reads the emulator's sources
//! and fails when a layer reaches for what it must not know. Each rule is stated in
//! ARCHITECTURE.md ("Invariants"):
//! - `axum`/`http` only in the HTTP edge;
//! - `rusqlite` only in the SQL module (`volume/sql.rs`);
//! - `App` only in `lib.rs` (and the binary and the test harness built on it).

use std::path::{Path, PathBuf};

/// Modules that speak HTTP: the services, the edge state and control API, the request
/// log, the error mapping, the body limit, the request-fault hook (it answers in the
/// handler's place) and the roots.
const HTTP_EDGE: &[&str] = &[
    "lib.rs",
    "main.rs",
    "testing.rs",
    "body.rs",
    "error.rs",
    "reqlog.rs",
    "cinder/",
    "keystone/",
    "edge/",
    "faults/mod.rs",
    "faults/effects.rs",
];

/// The only module that knows SQL.
const SQL: &[&str] = &["volume/sql.rs"];

/// The composition root, the binary, and the in-thread emulator for tests (which hands
/// its `App` to them).
const APP_ROOTS: &[&str] = &["lib.rs", "main.rs", "testing.rs"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Code without comments: everything after `//` on a line is dropped (string
/// literals holding `//` only lose their tail, which no rule looks at).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split("//").next().unwrap_or("")))
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `line` uses the path root or identifier `word` (a whole word, e.g. `axum`
/// in `use axum::Json` or `App` in `Arc<App>`, not `Apply` or `reqwest_axum`).
fn uses_word(line: &str, word: &str, path_only: bool) -> bool {
    let mut from = 0;
    while let Some(pos) = line[from..].find(word) {
        let at = from + pos;
        let end = at + word.len();
        let before = line[..at].chars().next_back();
        let after = &line[end..];
        let bounded_left = before.is_none_or(|c| !is_ident_char(c));
        let bounded_right = after.chars().next().is_none_or(|c| !is_ident_char(c));
        let ok_path = !path_only || after.starts_with("::");
        if bounded_left && bounded_right && ok_path {
            return true;
        }
        from = end;
    }
    false
}

fn allowed(rel: &str, list: &[&str]) -> bool {
    list.iter().any(|p| {
        if p.ends_with('/') {
            rel.starts_with(p)
        } else {
            rel == *p
        }
    })
}

/// Every `file:line: text` that breaks a rule, for the given source tree.
fn violations(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    sources(root, &mut files);
    let mut out = Vec::new();
    for path in files {
        let rel = path
            .strip_prefix(root)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&path).expect("read source");
        for (n, line) in code_lines(&text) {
            let mut refuse = |what: &str| {
                out.push(format!("src/{rel}:{n}: {what}: {}", line.trim()));
            };
            if !allowed(&rel, HTTP_EDGE)
                && (uses_word(line, "axum", true) || uses_word(line, "http", true))
            {
                refuse("axum/http outside the HTTP edge");
            }
            if !allowed(&rel, SQL) && uses_word(line, "rusqlite", false) {
                refuse("rusqlite outside the SQL module (volume/sql.rs)");
            }
            if !allowed(&rel, APP_ROOTS) && uses_word(line, "App", false) {
                refuse("App below lib.rs");
            }
        }
    }
    out
}

#[test]
fn layers_use_only_what_they_may() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&root);
    assert!(
        found.is_empty(),
        "structure rules broken (see ARCHITECTURE.md, Invariants):\n{}",
        found.join("\n")
    );
}

/// The checker itself: it finds each kind of breach, and only real uses.
#[test]
fn the_checker_sees_what_it_must() {
    assert!(uses_word("use axum::Json;", "axum", true));
    assert!(uses_word("    let s: axum::http::StatusCode", "http", true));
    assert!(!uses_word("let url = \"http://x\";", "http", true));
    assert!(!uses_word("use reqwest_axum::X;", "axum", true));
    assert!(uses_word("use rusqlite::Connection;", "rusqlite", false));
    assert!(uses_word("fn f(app: &Arc<App>)", "App", false));
    assert!(!uses_word("fn apply(x: Applied)", "App", false));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("volume")).unwrap();
    std::fs::write(
        dir.path().join("volume/x.rs"),
        "use axum::Json;\n// use rusqlite::A;\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("lib.rs"),
        "use rusqlite::B;\npub struct App;\n",
    )
    .unwrap();
    let found = violations(dir.path());
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("src/lib.rs:1: rusqlite outside"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("src/volume/x.rs:1: axum/http outside"),
        "{found:#?}"
    );
}
