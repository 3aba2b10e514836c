//! The driver against a Cinder that is slow to finish a detach (the emulator's `hold`
//! effect on `attachment.delete`): a read returns only once the detach has taken effect,
//! so the image can be deleted right after it, and a multiattach volume another worker
//! still holds stays `in-use` without the read waiting out its timeout.

mod driver_support;

use std::io::Read;

use cinderbox_driver::{AddRequest, Stores};
use driver_support::{config_text, configure, Cloud, Generated, Timeouts};
use serde_json::json;

const IMAGE_BYTES: u64 = 8192;
/// How long Cinder keeps the volume `detaching` after an attachment delete.
const HOLD_MS: u64 = 400;

fn volume_id(location: &str) -> &str {
    location.rsplit('/').next().expect("location has an id")
}

/// The emulator, and one store `store` on `volume_type` with a short transition timeout.
fn setup(store: &str, volume_type: &str) -> (Cloud, Stores) {
    let cloud = Cloud::start(None);
    let t = Timeouts {
        transition_s: 5,
        ..Timeouts::default()
    };
    let text = config_text(&cloud.identity_url(), &[(store, volume_type)], &t, "");
    (cloud, configure(&text))
}

/// Uploads a small image, then holds every later detach `detaching` for `HOLD_MS`.
fn upload_then_slow_detaches(cloud: &Cloud, stores: &Stores, image_id: &str) -> String {
    let added = stores
        .add(
            None,
            &AddRequest::new(image_id, Some(IMAGE_BYTES)),
            &mut Generated::new(IMAGE_BYTES),
        )
        .expect("upload");
    cloud.admin.add_fault(json!({
        "id": "slow-detach", "operation": "attachment.delete",
        "effect": {"hold": "detaching", "for_ms": HOLD_MS}
    }));
    added.location
}

/// Reads the whole image and finishes the read (the detach and its wait).
fn read_all(stores: &Stores, location: &str) -> Vec<u8> {
    let mut reader = stores.get(location, 0, None).expect("get");
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).expect("read");
    reader
        .finish()
        .expect("the read finishes once the detach has");
    bytes
}

#[test]
fn a_delete_right_after_a_read_succeeds_while_cinder_is_slow_to_detach() {
    let (cloud, stores) = setup("fast", "glance-fast");
    let location = upload_then_slow_detaches(&cloud, &stores, "img-slow-detach");
    let bytes = read_all(&stores, &location);
    assert_eq!(bytes, Generated::new(IMAGE_BYTES).slice(0, IMAGE_BYTES));
    assert_eq!(
        cloud.admin.fired("slow-detach"),
        1,
        "the read's detach was held"
    );
    let volume = cloud
        .admin
        .volume(volume_id(&location))
        .expect("the volume is there");
    // at once, as another Glance worker would: Cinder takes it
    let deleted = stores.delete(&location);
    assert!(
        deleted.is_ok(),
        "the delete right after the read: {deleted:?} (the volume was {})",
        volume["status"]
    );
    assert_eq!(volume["status"], "available", "{volume}");
    cloud
        .admin
        .assert_nothing_left("delete after a slow detach");
}

#[test]
fn a_read_of_a_multiattach_volume_another_worker_holds_ends_with_it_in_use() {
    let (cloud, stores) = setup("multi", "multiattach");
    let location = upload_then_slow_detaches(&cloud, &stores, "img-multi");
    let id = volume_id(&location);
    // another worker attaches the image volume and keeps it
    let client = &stores.store(Some("multi")).expect("store").client;
    let other = client.create_attachment(id, "ro").expect("reserve");
    let connector = json!({"host": "worker-b", "ip": "127.0.0.1", "platform": "x86_64",
                           "os_type": "linux", "multipath": false, "do_local_attach": false});
    client
        .update_attachment(&other.id, &connector)
        .expect("connect");
    client.complete_attachment(&other.id).expect("complete");

    let bytes = read_all(&stores, &location);
    assert_eq!(bytes, Generated::new(IMAGE_BYTES).slice(0, IMAGE_BYTES));
    assert_eq!(
        cloud.admin.fired("slow-detach"),
        1,
        "the read's detach was held"
    );
    // not `detaching` any more, and not waited into a timeout: still the other's
    let volume = cloud.admin.volume(id).expect("the volume is there");
    assert_eq!(volume["status"], "in-use", "{volume}");
    let holders: Vec<&str> = volume["attachments"]
        .as_array()
        .expect("attachments")
        .iter()
        .filter_map(|a| a["attachment_id"].as_str())
        .collect();
    assert_eq!(holders, vec![other.id.as_str()], "{volume}");

    cloud.admin.remove_fault("slow-detach");
    client
        .delete_attachment(&other.id)
        .expect("the other detaches");
    stores.delete(&location).expect("delete");
    cloud.admin.assert_nothing_left("multiattach read");
}
