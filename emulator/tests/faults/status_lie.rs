//! The `lie = "status"` effect on `volume.show`: the show answers another status while the
//! volume keeps its own, which every other call (a listing, a reservation) still sees.

use serde_json::json;

use crate::common::spawn_emulator;
use crate::fault_support::{spawn_with_scenario, Control};

#[test]
fn a_status_lie_changes_only_the_show_answer() {
    // From a rule file, with the create left unfinished: Cinder says `available` while the
    // volume is `creating`, and only for volumes named `lie-*`.
    let env = spawn_with_scenario(
        "[[rule]]\nid = \"stuck\"\noperation = \"volume.create\"\neffect = { transition = \"stay\" }\n\n\
         [[rule]]\nid = \"lie\"\noperation = \"volume.show\"\nvolume_name = \"lie-*\"\n\
         effect = { lie = \"status\", status = \"available\" }\n",
    );
    let ctl = Control::new(&env);
    assert_eq!(
        ctl.rule("lie")["effect"],
        json!({"lie": "status", "status": "available"})
    );
    let api = env.admin().at("3.54");
    let mut ids = Vec::new();
    for name in ["lie-1", "truth-1"] {
        let (s, b) = api.post("/volumes", json!({"volume": {"size": 1, "name": name}}));
        assert_eq!(s, 202, "{b}");
        assert_eq!(
            b["volume"]["status"], "creating",
            "the create answer is not a show"
        );
        ids.push(b["volume"]["id"].as_str().unwrap().to_string());
    }
    let (lied, truth) = (&ids[0], &ids[1]);
    let (s, b) = api.get(&format!("/volumes/{lied}"));
    assert_eq!(
        (s, &b["volume"]["status"]),
        (200, &json!("available")),
        "{b}"
    );
    assert_eq!(
        b["volume"]["id"],
        json!(lied),
        "the rest of the answer is the volume's"
    );
    assert_eq!(
        api.get(&format!("/volumes/{truth}")).1["volume"]["status"],
        "creating",
        "a volume the rule does not match is answered truly"
    );
    // The listing and Cinder's own checks see the real status.
    let (_, list) = api.get("/volumes/detail");
    let listed = list["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == json!(lied))
        .cloned()
        .expect("listed");
    assert_eq!(listed["status"], "creating");
    let (s, b) = api.post(
        "/attachments",
        json!({"attachment": {"volume_uuid": lied, "connector": {"host": "h"}, "mode": "rw"}}),
    );
    assert_eq!(s, 400, "{b}");
    let msg = b["badRequest"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("to reserve, but the current status is creating"),
        "{msg}"
    );
    assert_eq!(
        ctl.counters("lie").1,
        1,
        "the lie fired once (the truthful show did not match)"
    );
    // A 404 stays a 404: there is nothing to lie about.
    let missing = "00000000-0000-0000-0000-000000000000";
    assert_eq!(api.get(&format!("/volumes/{missing}")).0, 404);
}

#[test]
fn bad_status_lies_are_refused_naming_the_field() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let cases = [
        (
            r#"{"operation": "volume.show", "effect": {"lie": "status"}}"#,
            "field `effect.status`: missing",
        ),
        (
            r#"{"operation": "volume.show", "effect": {"lie": "status", "status": "ready"}}"#,
            "field `effect.status`: \"ready\" is not a Cinder volume status",
        ),
        (
            r#"{"operation": "volume.show", "effect": {"lie": "ack", "status": "available"}}"#,
            "field `effect.status`: only with lie = \"status\"",
        ),
        (
            r#"{"operation": "volume.show", "effect": {"lie": "status", "status": "available", "volume_type": "x"}}"#,
            "field `effect.volume_type`: only with lie = \"volume_type\"",
        ),
        (
            r#"{"operation": "volume.list", "effect": {"lie": "status", "status": "available"}}"#,
            "field `operation`: lie = \"status\" needs `operation` limited to volume.show",
        ),
        (
            r#"{"effect": {"lie": "status", "status": "available"}}"#,
            "field `operation`: lie = \"status\" needs `operation` limited to volume.show",
        ),
    ];
    ctl.assert_refused(&cases);
}
