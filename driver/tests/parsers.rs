//! The driver's parsers under arbitrary input: glance-api.conf (raw INI and typed),
//! image locations, `cinder_catalog_info`, booleans. An error, never a panic; and
//! what parses is consistent (a location prints back to itself, a config error names
//! its file). Near-valid INI files are the fixtures with one seeded mutation.
//! `CINDERBOX_LONG=1` runs many more cases.

use std::cell::Cell;
use std::path::Path;

use cinderbox_driver::config::{parse_bool, CatalogInfo};
use cinderbox_driver::ini::Ini;
use cinderbox_driver::location::Location;
use cinderbox_driver::GlanceConfig;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases(short: u32) -> u32 {
    if std::env::var("CINDERBOX_LONG").is_ok_and(|v| v == "1") {
        short * 50
    } else {
        short
    }
}

fn runner(short: u32) -> TestRunner {
    TestRunner::new(Config {
        cases: cases(short),
        failure_persistence: None,
        ..Config::default()
    })
}

fn fixtures() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/glance-api");
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    out.sort();
    assert!(out.len() >= 3, "the glance-api fixtures are there");
    out
}

/// One edit that keeps a file almost valid.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteChar(usize),
    InsertText(usize, String),
    DropLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    ReplaceValue(usize, String),
    Indent(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let text = prop_oneof![
        any::<String>(),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("=".to_string()),
        Just(":".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("\0".to_string()),
        Just("[DEFAULT]\n".to_string()),
        Just("enabled_backends = x:cinder,,:,y:\n".to_string()),
        Just("#".to_string()),
        Just("ü€💥".to_string()),
    ];
    let value = prop_oneof![
        any::<String>(),
        Just(String::new()),
        Just("-1".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("volumev3:cinderv3".to_string()),
        Just("http://[::1".to_string()),
        Just("a:b,c:d,a:b".to_string()),
        Just("nan".to_string()),
    ];
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteChar),
        (any::<usize>(), text).prop_map(|(i, t)| Mutation::InsertText(i, t)),
        any::<usize>().prop_map(Mutation::DropLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), value).prop_map(|(i, v)| Mutation::ReplaceValue(i, v)),
        any::<usize>().prop_map(Mutation::Indent),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let n = lines.len().max(1);
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| if chars.is_empty() { 0 } else { i % chars.len() };
    match m {
        Mutation::DeleteChar(i) => {
            let mut c = chars.clone();
            if !c.is_empty() {
                c.remove(at(*i));
            }
            c.into_iter().collect()
        }
        Mutation::InsertText(i, t) => {
            let mut c = chars.clone();
            let pos = at(*i);
            for (k, ch) in t.chars().enumerate() {
                c.insert(pos + k, ch);
            }
            c.into_iter().collect()
        }
        Mutation::Truncate(i) => chars[..at(*i)].iter().collect(),
        Mutation::DropLine(i) => {
            if !lines.is_empty() {
                lines.remove(i % n);
            }
            lines.join("\n")
        }
        Mutation::DuplicateLine(i) => {
            if !lines.is_empty() {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
            lines.join("\n")
        }
        Mutation::SwapLines(a, b) => {
            if !lines.is_empty() {
                lines.swap(a % n, b % n);
            }
            lines.join("\n")
        }
        Mutation::ReplaceValue(i, v) => {
            let with_values: Vec<usize> = (0..lines.len())
                .filter(|&k| lines[k].contains('='))
                .collect();
            if !with_values.is_empty() {
                let k = with_values[i % with_values.len()];
                let key = lines[k].split('=').next().unwrap().to_string();
                lines[k] = format!("{key}= {v}");
            }
            lines.join("\n")
        }
        Mutation::Indent(i) => {
            if !lines.is_empty() {
                lines[i % n] = format!("  {}", lines[i % n]);
            }
            lines.join("\n")
        }
    }
}

#[test]
fn near_valid_glance_api_confs_give_an_error_or_a_config_never_a_panic() {
    let fixtures = fixtures();
    let count = fixtures.len();
    let strategy = (0..count, prop::collection::vec(mutation(), 1..4));
    let (parsed, refused) = (Cell::new(0u64), Cell::new(0u64));
    runner(400)
        .run(&strategy, |(which, mutations)| {
            let text = mutations
                .iter()
                .fold(fixtures[which].clone(), |t, m| apply(&t, m));
            match GlanceConfig::parse("mutated.conf", &text) {
                Ok(config) => {
                    parsed.set(parsed.get() + 1);
                    prop_assert!(!config.backends.is_empty());
                    prop_assert!(config.backend(&config.default_backend).is_some());
                }
                Err(e) => {
                    refused.set(refused.get() + 1);
                    prop_assert!(e.to_string().starts_with("mutated.conf"), "{}", e);
                }
            }
            Ok(())
        })
        .unwrap();
    println!(
        "parsers: {} near-valid confs: {} parsed, {} refused, 0 panics",
        parsed.get() + refused.get(),
        parsed.get(),
        refused.get()
    );
}

#[test]
fn arbitrary_text_is_never_a_panic_for_the_ini_reader_or_the_config() {
    let strategy = prop_oneof![
        any::<String>(),
        prop::collection::vec(
            prop_oneof![
                "\\[[a-z_ ]{0,12}\\]?",
                "[a-z_]{0,20} ?[=:] ?.{0,30}",
                " +.{0,20}",
                "[#;].{0,20}",
                ".{0,30}",
            ],
            0..20
        )
        .prop_map(|lines| lines.join("\n")),
    ];
    let tried = Cell::new(0u64);
    runner(600)
        .run(&strategy, |text| {
            tried.set(tried.get() + 1);
            if let Ok(ini) = Ini::parse("any.conf", &text) {
                for s in &ini.sections {
                    prop_assert!(!s.name.is_empty());
                    for e in &s.entries {
                        prop_assert!(!e.key.is_empty() && e.line >= 1);
                    }
                }
            }
            if let Err(e) = GlanceConfig::parse("any.conf", &text) {
                prop_assert!(e.to_string().starts_with("any.conf"), "{}", e);
            }
            Ok(())
        })
        .unwrap();
    println!(
        "parsers: {} arbitrary texts through the INI reader and the config, 0 panics",
        tried.get()
    );
}

#[test]
fn locations_catalog_info_and_booleans_never_panic() {
    const ID: &str = "b31e69eb-fbee-47b3-b315-f9865143c03c";
    let location = prop_oneof![
        any::<String>(),
        any::<String>().prop_map(|s| format!("cinder://{s}")),
        any::<String>().prop_map(|s| format!("cinder://{s}/{ID}")),
        any::<String>().prop_map(|s| format!("cinder://fast/{s}")),
        "[a-z]{0,6}://[a-z/]{0,10}[0-9a-f-]{30,40}",
    ];
    let tried = Cell::new(0u64);
    runner(600)
        .run(&(location, any::<String>()), |(uri, other)| {
            tried.set(tried.get() + 3);
            if let Ok(loc) = Location::parse(&uri) {
                prop_assert_eq!(Location::parse(&loc.to_string()).ok(), Some(loc.clone()));
                prop_assert!(uri.starts_with("cinder://"));
            }
            let _ = CatalogInfo::parse(&other);
            if let Some(b) = parse_bool(&other) {
                prop_assert_eq!(parse_bool(if b { "true" } else { "false" }), Some(b));
            }
            Ok(())
        })
        .unwrap();
    println!(
        "parsers: {} location / catalog-info / boolean inputs, 0 panics",
        tried.get()
    );
}
