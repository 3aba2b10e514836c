//! The driver over NFS against the emulator's NFSv3 export (type `glance-nfs`, backend
//! `nfs-1`): Cinder's NFS connection_info shape, uploads of known and unknown size
//! crossing a GiB boundary with md5 and sha256 intact, ranged reads across it, the
//! server refusing writes under a read-only attachment, a dropped NFS connection
//! mid-upload leaving no volume, and bit rot on NFS reads visible in the checksums.
//! No root, no mount, no kernel NFS client.

mod driver_support;

use std::io::{Seek, SeekFrom, Write};

use cinderbox_driver::connector::{connector_for, AccessMode};
use cinderbox_driver::{AddRequest, DriverError, Stores};
use driver_support::{
    config_text, configure, hash_all, metadata, Cloud, Generated, Hashing, Timeouts, GIB, MIB,
};
use reqwest::Method;
use serde_json::{json, Value};

fn nfs_stores(cloud: &Cloud) -> Stores {
    let text = config_text(
        &cloud.identity_url(),
        &[("nfs", "glance-nfs")],
        &Timeouts::default(),
        "",
    );
    configure(&text)
}

fn volume_id(location: &str) -> &str {
    location.rsplit('/').next().expect("location has an id")
}

/// A volume of `type_name` made by the admin, available, and an attachment of it with
/// a connector in `mode`: (volume id, attachment id, connection_info).
fn attached(cloud: &Cloud, type_name: &str, mode: &str) -> (String, String, Value) {
    let admin = &cloud.admin;
    let (status, body) = admin.cinder(
        Method::POST,
        "/volumes",
        Some(json!({"volume": {"size": 1, "volume_type": type_name}})),
    );
    assert_eq!(status, 202, "{body}");
    let id = body["volume"]["id"].as_str().expect("id").to_string();
    for _ in 0..400 {
        if admin.volume(&id).expect("volume")["status"] == "available" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let (status, body) = admin.cinder(
        Method::POST,
        "/attachments",
        Some(json!({"attachment": {"volume_uuid": id, "mode": mode,
            "connector": {"host": "h", "ip": "127.0.0.1", "mode": mode}}})),
    );
    assert_eq!(status, 200, "{body}");
    let attachment = body["attachment"]["id"].as_str().expect("id").to_string();
    let info = body["attachment"]["connection_info"].clone();
    (id, attachment, info)
}

#[test]
fn nfs_volumes_answer_cinder_nfs_connection_info_and_others_stay_local() {
    let cloud = Cloud::start(None);
    let (id, attachment, info) = attached(&cloud, "glance-nfs", "rw");
    assert_eq!(info["driver_volume_type"], "nfs", "{info}");
    let export = info["export"].as_str().expect("export");
    assert!(
        export.starts_with("127.0.0.1:") && export.ends_with(":/nfs-1"),
        "{info}"
    );
    assert_eq!(info["name"], format!("volume-{id}"));
    assert_eq!(info["format"], "raw");
    assert_eq!(info["access_mode"], "rw");
    assert_eq!(info["encrypted"], false);
    assert_eq!(info["attachment_id"], attachment.as_str());
    let options = info["options"].as_str().expect("options");
    assert!(
        options.starts_with("-o vers=3,proto=tcp,port="),
        "{options}"
    );

    let (_, _, local) = attached(&cloud, "glance-fast", "rw");
    assert_eq!(local["driver_volume_type"], "local", "{local}");
    assert!(local["device_path"].is_string(), "{local}");
}

#[test]
fn uploads_cross_a_gib_boundary_over_nfs_with_checksums_intact() {
    let cloud = Cloud::start(None);
    let stores = nfs_stores(&cloud);
    let size = GIB + 3 * MIB + 77;
    for declared in [None, Some(size)] {
        let mut source = Hashing::new(Generated::new(size));
        let added = stores
            .add(None, &AddRequest::new("img-nfs", declared), &mut source)
            .expect("upload over NFS");
        let (md5, sha256) = source.finish();
        assert_eq!(added.size, size, "declared {declared:?}");
        assert_eq!(
            (added.checksum.as_str(), added.multihash.as_str()),
            (md5.as_str(), sha256.as_str())
        );
        let volume = cloud
            .admin
            .volume(volume_id(&added.location))
            .expect("volume");
        assert_eq!(volume["size"], 2, "grown to 2 GiB: {volume}");
        assert_eq!(volume["volume_type"], "glance-nfs");
        assert_eq!(metadata(&volume).get("image_size"), Some(&size.to_string()));
        assert!(cloud.admin.all_attachments().is_empty(), "upload detached");

        let reader = stores.get(&added.location, 0, None).expect("get");
        assert_eq!(hash_all(reader).expect("reads"), (size, md5, sha256));
        let generator = Generated::new(size);
        for (offset, length) in [(GIB - 4096, 3 * 4096), (GIB - 1, 2), (size - 100, 100)] {
            let mut reader = stores
                .get(&added.location, offset, Some(length))
                .expect("ranged get");
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut reader, &mut out).expect("range reads");
            reader.finish().expect("detaches");
            assert!(
                out == generator.slice(offset, length),
                "range {offset}+{length}"
            );
        }
        stores.delete(&added.location).expect("delete");
    }
    cloud.admin.assert_nothing_left("after the NFS images");
}

#[test]
fn the_server_refuses_writes_under_a_read_only_attachment() {
    let cloud = Cloud::start(None);
    let stores = nfs_stores(&cloud);
    let options = &stores.store(None).expect("store").options;
    let (_, ro_attachment, info) = attached(&cloud, "glance-nfs", "ro");
    let info = info.as_object().cloned().expect("object");
    // open read-write anyway: the client does not stop the write, the server must
    let mut file = connector_for(&info, options)
        .expect("nfs connector")
        .open(AccessMode::ReadWrite)
        .expect("opens");
    file.seek(SeekFrom::Start(4096)).expect("seek");
    let err = file
        .write(b"must not land")
        .expect_err("read-only attachment");
    assert_eq!(
        err.raw_os_error(),
        Some(30),
        "EROFS from NFS3ERR_ROFS: {err}"
    );

    // with the attachment gone, even reads are refused
    let (status, _) = cloud.admin.cinder(
        Method::DELETE,
        &format!("/attachments/{ro_attachment}"),
        None,
    );
    assert_eq!(status, 200);
    let mut buf = [0u8; 16];
    let err = std::io::Read::read(&mut file, &mut buf).expect_err("no attachment");
    assert_eq!(err.raw_os_error(), Some(13), "EACCES: {err}");
}

#[test]
fn a_dropped_nfs_connection_mid_upload_leaves_no_volume() {
    let cloud = Cloud::start(None);
    let stores = nfs_stores(&cloud);
    cloud.admin.add_fault(json!({
        "id": "drop-write", "operation": "nfs.write",
        "trigger": {"nth": 20}, "effect": "close"
    }));
    let mut source = Generated::new(64 * MIB);
    let err = stores
        .add(None, &AddRequest::new("img-drop", None), &mut source)
        .expect_err("the connection dropped");
    assert!(matches!(err, DriverError::Io { .. }), "{err:?}");
    assert_eq!(cloud.admin.fired("drop-write"), 1);
    cloud
        .admin
        .assert_nothing_left("after the dropped NFS connection");
}

#[test]
fn bit_rot_on_nfs_reads_shows_in_the_checksums() {
    let cloud = Cloud::start(None);
    let stores = nfs_stores(&cloud);
    let size = 8 * MIB + 5;
    let mut source = Hashing::new(Generated::new(size));
    let added = stores
        .add(None, &AddRequest::new("img-rot", Some(size)), &mut source)
        .expect("upload");
    let (md5, sha256) = source.finish();
    cloud.admin.add_fault(json!({
        "id": "rot-read", "operation": "nfs.read", "volume_name": "image-*",
        "trigger": {"first": 1}, "effect": {"bit_rot": 4, "seed": 3}
    }));
    let reader = stores.get(&added.location, 0, None).expect("get");
    let (n, got_md5, got_sha) = hash_all(reader).expect("reads");
    assert_eq!(n, size);
    assert_ne!(
        (got_md5, got_sha),
        (md5.clone(), sha256.clone()),
        "rot shows"
    );
    assert_eq!(cloud.admin.fired("rot-read"), 1);
    let reader = stores.get(&added.location, 0, None).expect("get again");
    assert_eq!(
        hash_all(reader).expect("reads"),
        (size, md5, sha256),
        "at rest intact"
    );
    stores.delete(&added.location).expect("delete");
}

#[test]
fn latency_on_nfs_calls_is_applied_by_operation_name() {
    let cloud = Cloud::start(None);
    let stores = nfs_stores(&cloud);
    cloud.admin.add_fault(json!({
        "id": "slow-write", "operation": "nfs.write",
        "trigger": {"first": 2}, "effect": {"latency_ms": 50}
    }));
    let mut source = Generated::new(2 * MIB);
    let added = stores
        .add(
            None,
            &AddRequest::new("img-slow", Some(2 * MIB)),
            &mut source,
        )
        .expect("upload");
    assert_eq!(
        cloud.admin.fired("slow-write"),
        2,
        "2 MiB are 2 WRITEs of 1 MiB"
    );
    let reader = stores.get(&added.location, 0, None).expect("get");
    assert_eq!(hash_all(reader).expect("reads").0, 2 * MIB);
    stores.delete(&added.location).expect("delete");
}
