//! The `truncate` effect on `volume.action.os-extend`: the extend succeeds and the
//! volume grows, but the bytes it held read back as zeros; a rule file with it parses,
//! and a bad value is refused naming the field.

use std::io::{Read, Write};

use serde_json::{json, Value};

use crate::common::{spawn_emulator, Api};
use crate::fault_support::{attach_rw, spawn_with_scenario, wait_fired, Control};

/// Writes `data` at the start of `vid` through an attachment, then detaches.
fn write_head(api: &Api, vid: &str, data: &[u8]) -> std::path::PathBuf {
    let (aid, path) = attach_rw(api, vid);
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all(data).unwrap();
    f.sync_all().unwrap();
    drop(f);
    assert_eq!(api.delete(&format!("/attachments/{aid}")).0, 200);
    path
}

fn head(path: &std::path::Path, n: usize) -> Vec<u8> {
    let mut back = vec![0u8; n];
    std::fs::File::open(path)
        .unwrap()
        .read_exact(&mut back)
        .unwrap();
    back
}

fn extend(api: &Api, vid: &str, new_size: u64) -> Value {
    let (s, b) = api.post(
        &format!("/volumes/{vid}/action"),
        json!({"os-extend": {"new_size": new_size}}),
    );
    assert_eq!(s, 202, "{b}");
    let v = api.wait_status(vid, "available");
    assert_eq!(v["size"], new_size, "{v}");
    v
}

#[test]
fn a_truncating_extend_grows_the_volume_and_zeroes_its_bytes() {
    // From a rule file, limited to volumes named `trunc-*`: the other one is a control.
    let env = spawn_with_scenario(
        "[[rule]]\nid = \"trunc\"\noperation = \"volume.action.os-extend\"\n\
         volume_name = \"trunc-*\"\neffect = { truncate = true }\n",
    );
    let ctl = Control::new(&env);
    assert_eq!(ctl.rule("trunc")["effect"], json!({"truncate": true}));
    let api = env.admin().at("3.54");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8 + 1).collect();
    let mut paths = Vec::new();
    for name in ["trunc-me", "keep-me"] {
        let (s, b) = api.post("/volumes", json!({"volume": {"size": 1, "name": name}}));
        assert_eq!(s, 202, "{b}");
        let vid = b["volume"]["id"].as_str().unwrap().to_string();
        api.wait_status(&vid, "available");
        let path = write_head(&api, &vid, &data);
        assert_eq!(head(&path, data.len()), data, "{name}: written");
        extend(&api, &vid, 2);
        paths.push(path);
    }
    wait_fired(&ctl, "trunc", 1);
    assert_eq!(ctl.counters("trunc"), (1, 1), "only the matching volume");
    let [truncated, kept] = &paths[..] else {
        unreachable!("two volumes")
    };
    assert_eq!(std::fs::metadata(truncated).unwrap().len(), 2 << 30);
    assert!(
        head(truncated, data.len()).iter().all(|b| *b == 0),
        "the truncated volume reads back as zeros"
    );
    assert_eq!(std::fs::metadata(kept).unwrap().len(), 2 << 30);
    assert_eq!(head(kept, data.len()), data, "the control keeps its bytes");
}

#[test]
fn bad_truncate_rules_are_refused_naming_the_field() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let cases = [
        (
            r#"{"operation": "volume.action.os-extend", "effect": {"truncate": false}}"#,
            "field `effect.truncate`: must be true",
        ),
        (
            r#"{"operation": "volume.action.os-extend", "effect": {"truncate": "yes"}}"#,
            "field `effect.truncate`: invalid type",
        ),
        (
            r#"{"operation": "volume.action.os-extend", "effect": {"truncate": true, "seed": 1}}"#,
            "field `effect.seed`: not allowed here",
        ),
        (
            r#"{"operation": "volume.create", "effect": {"truncate": true}}"#,
            "field `operation`: truncate applies to the extend job only",
        ),
        (
            r#"{"effect": {"truncate": true}}"#,
            "field `operation`: truncate applies to the extend job only",
        ),
        (
            r#"{"operation": "volume.action.os-extend", "method": "POST", "effect": {"truncate": true}}"#,
            "field `effect.truncate`: applies to the extend job",
        ),
        (
            r#"{"operation": "volume.action.os-extend", "effect": {"sequence": [{"truncate": true}]}}"#,
            "cannot be sequence steps",
        ),
    ];
    ctl.assert_refused(&cases);
    let err = cinderbox_emulator::faults::Scenario::parse(
        "[[rule]]\nid = \"t\"\noperation = \"volume.action.os-extend\"\neffect = { truncate = 1 }\n",
        "bad.toml",
    )
    .expect_err("a number is not a boolean");
    assert!(err.to_string().contains("field `effect.truncate`"), "{err}");
}
