//! `Store` and `State` tests: group commit, reopen, the sums and indexes kept in step.

use super::*;
use crate::volume::model::now;
use crate::volume::status::VolumeStatus;

fn volume(seq: u64) -> Volume {
    Volume {
        id: Uuid::new_v4(),
        seq,
        project_id: "p".into(),
        user_id: "u".into(),
        name: Some("v".into()),
        description: None,
        size_gb: 1,
        status: VolumeStatus::Creating,
        volume_type_id: Uuid::new_v4(),
        availability_zone: "nova".into(),
        bootable: false,
        multiattach: false,
        metadata: BTreeMap::from([("k".into(), "v".into())]),
        admin_metadata: BTreeMap::new(),
        migration_status: None,
        host: None,
        group_id: None,
        snapshot_id: None,
        source_volid: None,
        created_at: now(),
        updated_at: None,
    }
}

/// Snapshot gigabytes are summed as they are written, staged or committed, and
/// again from the database when it is reopened.
#[test]
fn snapshot_sums_follow_writes_and_survive_reopen() {
    use crate::volume::snapshots::Snapshot;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let type_id = Uuid::new_v4();
    let snap = |size_gb| Snapshot {
        id: Uuid::from_u128(7),
        seq: 1,
        project_id: "p".into(),
        user_id: "u".into(),
        volume_id: Uuid::new_v4(),
        volume_type_id: type_id,
        name: None,
        description: None,
        status: crate::volume::snapshot_status::SnapshotStatus::Available,
        progress: "100%".into(),
        size_gb,
        metadata: BTreeMap::new(),
        group_snapshot_id: None,
        created_at: now(),
        updated_at: None,
    };
    let (first, bigger) = (snap(3), snap(5));
    let staged = store
        .write_blocking(move |tx| {
            tx.put_record(&first);
            let one = tx.snapshot_usage("p", None);
            tx.put_record(&bigger);
            Ok((one, tx.snapshot_usage("p", Some(type_id))))
        })
        .unwrap();
    assert_eq!(staged, ((1, 3), (1, 5)));
    let usage = |store: &Store| {
        store.view(|tx| {
            (
                tx.snapshot_usage("p", None),
                tx.snapshot_usage("p", Some(Uuid::nil())),
                tx.snapshot_usage("q", None),
            )
        })
    };
    assert_eq!(usage(&store), ((1, 5), (0, 0), (0, 0)));
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(usage(&store), ((1, 5), (0, 0), (0, 0)));
    store
        .write_blocking(|tx| {
            tx.remove_record::<Snapshot>(&Uuid::from_u128(7).to_string());
            Ok(())
        })
        .unwrap();
    assert_eq!(usage(&store), ((0, 0), (0, 0), (0, 0)));
}

/// The creation-order index follows every insert, update and removal.
#[test]
fn volumes_newest_first_follow_updates_and_removals() {
    let mut state = State::default();
    let vols: Vec<Volume> = (1..=4).map(volume).collect();
    for v in &vols {
        state.insert_volume(v.clone());
    }
    let mut updated = vols[1].clone();
    updated.status = VolumeStatus::Available;
    updated.size_gb = 5;
    state.insert_volume(updated);
    state.remove_volume(&vols[2].id);
    let order =
        |before| -> Vec<Uuid> { state.volumes_newest_first(before).map(|v| v.id).collect() };
    assert_eq!(order(None), [vols[3].id, vols[1].id, vols[0].id]);
    assert_eq!(order(Some(4)), [vols[1].id, vols[0].id]);
    assert_eq!(order(Some(1)), Vec::<Uuid>::new());
    assert_eq!(state.sums.usage("p", None), (3, 7));
}

#[test]
fn committed_writes_survive_reopen_and_failed_ones_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let v = volume(1);
    let id = v.id;
    store
        .write_blocking(move |tx| {
            tx.put_volume(v);
            tx.next_seq();
            Ok(())
        })
        .unwrap();
    let refused = store.write_blocking(move |tx| {
        tx.remove_volume(id);
        Err::<(), _>(ApiError::bad_request("no"))
    });
    assert!(refused.is_err());
    assert!(store.read(|s| s.volumes.contains_key(&id)));
    drop(store);

    let store = Store::open(dir.path()).unwrap();
    let back = store.read(|s| s.volumes.get(&id).cloned()).unwrap();
    assert_eq!(back.metadata["k"], "v");
    assert_eq!(back.status, VolumeStatus::Creating);
    assert_eq!(store.read(|s| s.next_seq), 1);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn a_transaction_sees_its_own_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let v = volume(1);
    let id = v.id;
    let seen = store
        .write_blocking(move |tx| {
            tx.put_volume(v);
            let n = tx.volumes().count();
            tx.remove_volume(id);
            Ok((n, tx.volumes().count(), tx.volume(id).is_none()))
        })
        .unwrap();
    assert_eq!(seen, (1, 0, true));
}

type TestOp = Box<dyn FnOnce(&mut Tx<'_>) -> Result<usize, ApiError> + Send>;

#[test]
fn a_group_commits_its_good_writes_and_rolls_back_a_failed_one_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Hold the writer so that the three writes below queue up and form one group.
    let (release, held) = mpsc::channel::<()>();
    store
        .send(Msg::Db(Box::new(move |_, _| {
            let _ = held.recv();
        })))
        .unwrap();
    let (a, b, c) = (volume(1), volume(9), volume(2));
    let (a_id, b_id, c_id) = (a.id, b.id, c.id);
    let (answers, results) = mpsc::channel::<(char, Result<usize, ApiError>)>();
    let queue = |name: char, f: TestOp| {
        let answers = answers.clone();
        store
            .send(Msg::Write(op(f, move |r| {
                let _ = answers.send((name, r));
            })))
            .unwrap();
    };
    queue(
        'a',
        Box::new(move |tx| {
            tx.put_volume(a);
            Ok(tx.next_seq() as usize)
        }),
    );
    queue(
        'b',
        Box::new(move |tx| {
            tx.put_volume(b);
            tx.remove_volume(a_id);
            tx.next_seq();
            tx.set_quota("p", "volumes", Some(1));
            Err(ApiError::bad_request("no"))
        }),
    );
    queue(
        'c',
        Box::new(move |tx| {
            // Sees a (grouped before it), not b (rolled back), and b's seq is reused.
            let seen = tx.volumes().count();
            tx.put_volume(c);
            assert_eq!(tx.next_seq(), 2);
            assert_eq!(tx.quota_override("p", "volumes"), None);
            Ok(seen)
        }),
    );
    // Nothing is answered before the group commits.
    assert!(results.try_recv().is_err());
    release.send(()).unwrap();
    let mut got: Vec<(char, Result<usize, ApiError>)> =
        (0..3).map(|_| results.recv().unwrap()).collect();
    got.sort_by_key(|(n, _)| *n);
    assert_eq!(got[0], ('a', Ok(1)));
    assert!(got[1].1.is_err());
    assert_eq!(got[2], ('c', Ok(1)));
    let check = |store: &Store| {
        store.read(|s| {
            assert!(s.volumes.contains_key(&a_id) && s.volumes.contains_key(&c_id));
            assert!(!s.volumes.contains_key(&b_id));
            assert_eq!(s.next_seq, 2);
            assert!(s.quotas.is_empty());
            assert_eq!(s.sums.usage("p", None), (2, 2));
        })
    };
    check(&store);
    drop(store);
    check(&Store::open(dir.path()).unwrap());
}
