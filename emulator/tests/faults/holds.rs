//! The storage-state effects: `hold` (a volume kept `reserved` / `attaching` /
//! `detaching` for a set time after an attachment call) and `refuse` (attachment
//! reservations refused with Cinder's exact 400), over real HTTP, as several Glance
//! workers sharing one image volume meet them.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{spawn_emulator, Api};
use crate::fault_support::Control;

/// Long enough that no loaded machine outlives it within one test step.
const LONG_HOLD_MS: u64 = 120_000;

fn status(api: &Api, id: &str) -> String {
    let (code, body) = api.get(&format!("/volumes/{id}"));
    assert_eq!(code, 200, "{body}");
    body["volume"]["status"].as_str().unwrap().to_string()
}

fn connector(host: &str) -> Value {
    json!({"host": host, "ip": "127.0.0.1", "platform": "x86_64", "os_type": "linux",
           "multipath": false, "do_local_attach": false})
}

/// `POST /attachments` at 3.54 with a connector; the raw answer.
fn try_reserve(api: &Api, volume: &str, host: &str) -> (u16, Value) {
    api.at("3.54").post(
        "/attachments",
        json!({"attachment": {"volume_uuid": volume, "connector": connector(host), "mode": "rw"}}),
    )
}

/// A whole attach (create with connector, complete), as glance_store does: the id.
fn attach(api: &Api, volume: &str, host: &str) -> String {
    let (code, body) = try_reserve(api, volume, host);
    assert_eq!(code, 200, "{body}");
    let aid = body["attachment"]["id"].as_str().unwrap().to_string();
    let (code, body) = api.at("3.54").post(
        &format!("/attachments/{aid}/action"),
        json!({"os-complete": {}}),
    );
    assert_eq!(code, 204, "{body}");
    aid
}

fn refusal_text(volume: &str, statuses: &str, current: &str) -> String {
    format!(
        "Invalid volume: Volume {volume} status must be {statuses} to reserve, but the current status is {current}."
    )
}

#[test]
fn a_held_detach_keeps_the_volume_detaching_refusing_reservations_and_deletes() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin();
    let vid = api.available_volume(1, None);
    let rule = ctl.add(
        json!({"id": "slow-detach", "operation": "attachment.delete",
                              "effect": {"hold": "detaching", "for_ms": LONG_HOLD_MS}}),
    );
    assert_eq!(rule["effect"]["hold"], "detaching");

    let aid = attach(&api, &vid, "worker-a");
    assert_eq!(status(&api, &vid), "in-use");
    let (code, body) = api.at("3.54").delete(&format!("/attachments/{aid}"));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["attachments"], json!([]));
    assert_eq!(ctl.counters("slow-detach"), (1, 1));
    let (_, shown) = api.get(&format!("/volumes/{vid}"));
    assert_eq!(shown["volume"]["status"], "detaching");
    assert_eq!(
        shown["volume"]["attachments"],
        json!([]),
        "the attachment is gone"
    );

    // Another worker's reservation: the domain's own refusal, Cinder's text.
    let (code, body) = try_reserve(&api, &vid, "worker-b");
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        body["badRequest"]["message"],
        refusal_text(&vid, "available or downloading", "detaching")
    );
    // The image delete right after the download: refused while detaching.
    let (code, body) = api.delete(&format!("/volumes/{vid}"));
    assert_eq!(code, 400, "{body}");
    let message = body["badRequest"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Invalid volume: Volume status must be available or error"),
        "{message}"
    );
    assert_eq!(status(&api, &vid), "detaching", "refusals change nothing");
}

#[test]
fn a_hold_ends_in_the_status_the_attachments_give_and_not_before_its_time() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin();
    let vid = api.available_volume(1, None);
    let hold_ms = 400;
    ctl.add(json!({"id": "short", "operation": "attachment.delete",
                   "effect": {"hold": "detaching", "for_ms": hold_ms}}));
    let aid = attach(&api, &vid, "worker-a");
    let sent = Instant::now();
    let (code, body) = api.at("3.54").delete(&format!("/attachments/{aid}"));
    assert_eq!(code, 200, "{body}");
    let mut seen = Vec::new();
    // bounded by the generous deadline below, not by the hold
    loop {
        let s = status(&api, &vid);
        if seen.last() != Some(&s) {
            seen.push(s.clone());
        }
        if s == "available" {
            break;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(120),
            "still {s} two minutes after the detach"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(
        sent.elapsed() >= Duration::from_millis(hold_ms),
        "available after {:?}, before the hold's {hold_ms} ms",
        sent.elapsed()
    );
    assert_eq!(
        seen.first().map(String::as_str),
        Some("detaching"),
        "{seen:?}"
    );
    assert_eq!(ctl.counters("short"), (1, 1));
    // Free again: a new reservation succeeds.
    let (code, body) = try_reserve(&api, &vid, "worker-b");
    assert_eq!(code, 200, "{body}");
}

#[test]
fn a_held_attach_shows_attaching_and_refuses_a_second_worker() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin();
    let vid = api.available_volume(1, None);
    ctl.add(
        json!({"id": "slow-attach", "operation": "attachment.complete",
                   "effect": {"hold": "attaching", "for_ms": LONG_HOLD_MS}}),
    );
    attach(&api, &vid, "worker-a");
    assert_eq!(status(&api, &vid), "attaching");
    let (code, body) = try_reserve(&api, &vid, "worker-b");
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        body["badRequest"]["message"],
        refusal_text(&vid, "available or downloading", "attaching")
    );
    // A hold on `reserved` after a reservation with a connector (Cinder's own status
    // then is `attaching`), on another volume.
    let other = api.available_volume(1, None);
    ctl.add(
        json!({"id": "slow-reserve", "operation": "attachment.create",
                   "effect": {"hold": "reserved", "for_ms": LONG_HOLD_MS}}),
    );
    let (code, body) = try_reserve(&api, &other, "worker-a");
    assert_eq!(code, 200, "{body}");
    assert_eq!(ctl.counters("slow-reserve"), (1, 1));
    assert_eq!(status(&api, &other), "reserved");
    let (code, body) = try_reserve(&api, &other, "worker-b");
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        body["badRequest"]["message"],
        refusal_text(&other, "available or downloading", "reserved")
    );
}

#[test]
fn refuse_answers_reservations_with_cinders_exact_400_then_lets_them_through() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let api = env.admin();
    let vid = api.available_volume(1, None);
    let multi = api.available_volume(1, Some("multiattach"));
    ctl.add(json!({"id": "busy", "operation": "attachment.create",
                   "trigger": {"first": 3}, "effect": {"refuse": "reserved"}}));
    for _ in 0..2 {
        let (code, body) = try_reserve(&api, &vid, "worker-b");
        assert_eq!(code, 400, "{body}");
        assert_eq!(
            body,
            json!({"badRequest": {"code": 400,
                   "message": refusal_text(&vid, "available or downloading", "reserved")}})
        );
        assert_eq!(status(&api, &vid), "available", "a refusal changes nothing");
    }
    let (code, body) = try_reserve(&api, &multi, "worker-b");
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        body["badRequest"]["message"],
        refusal_text(&multi, "available or in-use or downloading", "reserved")
    );
    let (code, body) = try_reserve(&api, &vid, "worker-b");
    assert_eq!(code, 200, "the fourth is let through: {body}");
    assert_eq!(ctl.counters("busy"), (4, 3));
    // A missing volume keeps Cinder's own answer.
    ctl.add(json!({"id": "any", "operation": "attachment.create", "effect": {"refuse": "in-use"}}));
    let (code, body) = try_reserve(&api, "9f3c1e2a-0b4d-4c6e-8f1a-2b3c4d5e6f70", "w");
    assert_eq!(code, 404, "{body}");
}

#[test]
fn hold_and_refuse_rules_are_checked_when_written() {
    let env = spawn_emulator();
    let ctl = Control::new(&env);
    let cases = [
        (
            json!({"operation": "attachment.delete", "effect": {"hold": "in-use", "for_ms": 5}}),
            "field `effect.hold`: one of \"reserved\", \"attaching\", \"detaching\"",
        ),
        (
            json!({"operation": "attachment.delete", "effect": {"hold": "detaching"}}),
            "field `effect.for_ms`: missing",
        ),
        (
            json!({"operation": "attachment.delete", "effect": {"hold": "gone", "for_ms": 5}}),
            "\"gone\" is not a Cinder volume status",
        ),
        (
            json!({"operation": "volume.create", "effect": {"hold": "detaching", "for_ms": 5}}),
            "a hold applies only to attachment.create",
        ),
        (
            json!({"method": "DELETE", "effect": {"hold": "detaching", "for_ms": 5}}),
            "field `effect.hold`: applies after an attachment call",
        ),
        (
            json!({"operation": "volume.create", "effect": {"refuse": "reserved"}}),
            "needs `operation = \"attachment.create\"`",
        ),
        (
            json!({"operation": "attachment.create", "effect": {"refuse": "available"}}),
            "field `effect.refuse`: a volume that is available",
        ),
        (
            json!({"operation": "attachment.delete",
                   "effect": {"hold": "detaching", "for_ms": 5, "delay_ms": 1}}),
            "effect.delay_ms",
        ),
    ];
    for (rule, want) in cases {
        let (code, body) = ctl.try_add(&rule.to_string());
        assert_eq!(code, 400, "{rule} was accepted: {body}");
        let message = body["badRequest"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(want), "{rule}: {message}");
    }
    assert!(ctl.list().is_empty(), "nothing was installed");
}
