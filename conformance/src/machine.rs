//! The operations and the reference state machine: how transitions are generated from the
//! model, when they apply, and what they do to the model.

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;
use proptest_state_machine::ReferenceStateMachine;

use crate::faults::TransientFault;
use crate::model::{Capabilities, Content, Form, Image, ImageKey, Model, GIB};
use crate::profile::DriverProfile;

/// Which store call an invalid location is handed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    GetSize,
    Get,
    Delete,
    Upgrade,
}

/// Malformed or unknown locations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadKind {
    /// `cinder://fast/not-a-uuid`
    NotUuid,
    /// `rbd://<uuid>`
    OtherScheme,
    /// `<uuid>` with no scheme at all
    NoScheme,
    /// `cinder://nosuch/<uuid>`: a store that is not configured
    UnknownStore,
}

/// One step of a sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Upload to `store` (the default store when `None`), declaring the size or not.
    Upload {
        key: ImageKey,
        store: Option<String>,
        content: Content,
        declared: bool,
    },
    /// Upload to a disabled store: refused, nothing created.
    UploadDisabled {
        store: String,
        content: Content,
        declared: bool,
    },
    Download {
        key: ImageKey,
    },
    DownloadRange {
        key: ImageKey,
        offset: u64,
        length: u64,
    },
    GetSize {
        key: ImageKey,
    },
    /// Delete (again, when already deleted: NotFound).
    Delete {
        key: ImageKey,
    },
    /// A volume made directly through the Cinder API with a `cinder://<id>` location.
    CreateLegacy {
        key: ImageKey,
        volume_type: Option<String>,
        content: Content,
    },
    Upgrade {
        key: ImageKey,
    },
    /// Batch upgrade of several locations, optionally with one malformed among them.
    UpgradeBatch {
        keys: Vec<ImageKey>,
        with_bad: bool,
    },
    /// Read an image through a location naming `store` (a disabled one: still served).
    ReadVia {
        key: ImageKey,
        store: String,
    },
    /// Delete through a location naming a disabled store: refused, nothing deleted (served
    /// by a driver whose profile keeps such stores writable).
    DeleteVia {
        key: ImageKey,
        store: String,
    },
    BadLocation {
        kind: BadKind,
        call: Call,
    },
    /// A well-formed location whose volume does not exist.
    Missing {
        volume: u128,
        legacy: bool,
        call: Call,
    },
    /// `op` with a fault the driver must survive installed around it (emulator only).
    Faulted {
        fault: TransientFault,
        op: Box<Op>,
    },
    /// Restart the emulator (state survives).
    Restart,
}

/// The reference state: the spec's model and the driver under test's documented
/// differences, passed into every expectation the model's answer goes through (the model
/// itself knows no driver).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub model: Model,
    pub profile: DriverProfile,
}

thread_local! {
    /// The state every case starts from; set by the runner before generating.
    static START: RefCell<Option<Reference>> = const { RefCell::new(None) };
}

/// Sets the starting model, and the profile of the driver under test, for cases generated
/// on this thread.
pub fn set_start(model: Model, profile: DriverProfile) {
    START.with(|s| *s.borrow_mut() = Some(Reference { model, profile }));
}

fn start() -> Reference {
    START.with(|s| {
        s.borrow()
            .clone()
            .expect("the runner sets the starting model first")
    })
}

/// The reference state machine.
pub struct Conformance;

/// Image contents: empty, small, multi-chunk (above the driver's 4 MiB chunk when the budget
/// allows) and, rarely and only when allowed, crossing a GiB boundary.
fn contents(caps: &Capabilities) -> BoxedStrategy<Content> {
    let max = caps.max_image_bytes.max(1);
    let mut arms: Vec<(u32, BoxedStrategy<u64>)> = vec![
        (10, Just(0u64).boxed()),
        (60, (1u64..=max.min(4096)).boxed()),
    ];
    if max > 4096 {
        arms.push((25, (4097u64..=max).boxed()));
    }
    if caps.large {
        arms.push((2, (GIB - 4096..=GIB + 4096).boxed()));
    }
    (Union::new_weighted(arms), any::<u64>())
        .prop_map(|(len, seed)| Content { seed, len })
        .boxed()
}

fn calls() -> impl Strategy<Value = Call> {
    prop_oneof![
        Just(Call::GetSize),
        Just(Call::Get),
        Just(Call::Delete),
        Just(Call::Upgrade)
    ]
}

impl ReferenceStateMachine for Conformance {
    type State = Reference;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Reference> {
        Just(start()).boxed()
    }

    fn transitions(r: &Reference) -> BoxedStrategy<Op> {
        let m = &r.model;
        let keys: Vec<ImageKey> = m.images.keys().copied().collect();
        let live: Vec<ImageKey> = m.live().map(|(k, _)| *k).collect();
        let key = m.next_key;
        let enabled: Vec<Option<String>> = std::iter::once(None)
            .chain(
                m.stores
                    .iter()
                    .filter(|s| s.enabled)
                    .map(|s| Some(s.name.clone())),
            )
            .collect();
        let disabled: Vec<String> = m
            .stores
            .iter()
            .filter(|s| !s.enabled)
            .map(|s| s.name.clone())
            .collect();
        let content = contents(&m.caps);
        let legacy_content = if m.caps.legacy_bytes {
            contents(&Capabilities {
                large: false,
                ..m.caps.clone()
            })
        } else {
            Just(Content::EMPTY).boxed()
        };

        let upload = (select(enabled), content.clone(), any::<bool>())
            .prop_map(move |(store, content, declared)| Op::Upload {
                key,
                store,
                content,
                declared,
            })
            .boxed();
        let mut arms: Vec<(u32, BoxedStrategy<Op>)> = vec![(8, upload.clone())];
        arms.push((
            3,
            (select(m.legacy_types.clone()), legacy_content)
                .prop_map(move |(volume_type, content)| Op::CreateLegacy {
                    key,
                    volume_type,
                    content,
                })
                .boxed(),
        ));
        arms.push((
            1,
            (
                prop_oneof![
                    Just(BadKind::NotUuid),
                    Just(BadKind::OtherScheme),
                    Just(BadKind::NoScheme),
                    Just(BadKind::UnknownStore)
                ],
                calls(),
            )
                .prop_map(|(kind, call)| Op::BadLocation { kind, call })
                .boxed(),
        ));
        arms.push((
            1,
            (any::<u128>(), any::<bool>(), calls())
                .prop_map(|(volume, legacy, call)| Op::Missing {
                    volume,
                    legacy,
                    call,
                })
                .boxed(),
        ));
        if !disabled.is_empty() {
            arms.push((
                1,
                (select(disabled.clone()), content.clone(), any::<bool>())
                    .prop_map(|(store, content, declared)| Op::UploadDisabled {
                        store,
                        content,
                        declared,
                    })
                    .boxed(),
            ));
            if !live.is_empty() {
                arms.push((
                    1,
                    (
                        select(live.clone()),
                        select(disabled.clone()),
                        any::<bool>(),
                    )
                        .prop_map(|(key, store, read)| {
                            if read {
                                Op::ReadVia { key, store }
                            } else {
                                Op::DeleteVia { key, store }
                            }
                        })
                        .boxed(),
                ));
            }
        }
        if !keys.is_empty() {
            let sized: Vec<(ImageKey, u64)> =
                m.images.iter().map(|(k, i)| (*k, i.content.len)).collect();
            // Up to one byte past the end: an out-of-range read must be refused — unless the
            // driver leaves range checks to Glance (`DriverProfile::read_ranges_unguarded`).
            let past_end = u64::from(!r.profile.read_ranges_unguarded);
            arms.push((
                4,
                select(keys.clone())
                    .prop_map(|key| Op::Download { key })
                    .boxed(),
            ));
            arms.push((
                3,
                select(sized)
                    .prop_flat_map(move |(key, len)| {
                        (Just(key), 0..=len.min(1 << 20)).prop_flat_map(move |(key, offset)| {
                            let rest = (len - offset).min(1 << 20) + past_end;
                            (0..=rest).prop_map(move |length| Op::DownloadRange {
                                key,
                                offset,
                                length,
                            })
                        })
                    })
                    .boxed(),
            ));
            arms.push((
                2,
                select(keys.clone())
                    .prop_map(|key| Op::GetSize { key })
                    .boxed(),
            ));
            arms.push((
                3,
                select(keys.clone())
                    .prop_map(|key| Op::Delete { key })
                    .boxed(),
            ));
            arms.push((
                3,
                select(keys.clone())
                    .prop_map(|key| Op::Upgrade { key })
                    .boxed(),
            ));
            arms.push((
                1,
                (
                    proptest::collection::vec(select(keys.clone()), 1..=4),
                    any::<bool>(),
                )
                    .prop_map(|(keys, with_bad)| Op::UpgradeBatch { keys, with_bad })
                    .boxed(),
            ));
        }
        if m.caps.faults {
            let faulted_upload = (select(TransientFault::ALL.to_vec()), upload)
                .prop_map(|(fault, op)| Op::Faulted {
                    fault,
                    op: Box::new(op),
                })
                .boxed();
            arms.push((1, faulted_upload));
            if !live.is_empty() {
                let download_faults: Vec<TransientFault> = TransientFault::ALL
                    .into_iter()
                    .filter(|f| f.hits_download())
                    .collect();
                arms.push((
                    1,
                    (select(download_faults), select(live))
                        .prop_map(|(fault, key)| Op::Faulted {
                            fault,
                            op: Box::new(Op::Download { key }),
                        })
                        .boxed(),
                ));
            }
        }
        if m.caps.faults && !keys.is_empty() {
            // `get_size` while Cinder cannot show the volume: an error, never a size
            arms.push((
                1,
                (
                    select(TransientFault::SHOW_OUTAGES.to_vec()),
                    select(keys.clone()),
                )
                    .prop_map(|(fault, key)| Op::Faulted {
                        fault,
                        op: Box::new(Op::GetSize { key }),
                    })
                    .boxed(),
            ));
        }
        if m.caps.restart {
            arms.push((1, Just(Op::Restart).boxed()));
        }
        Union::new_weighted(arms).boxed()
    }

    fn preconditions(r: &Reference, op: &Op) -> bool {
        let m = &r.model;
        let exists = |k: &ImageKey| m.images.contains_key(k);
        let live = |k: &ImageKey| m.images.get(k).is_some_and(|i| !i.deleted);
        match op {
            Op::Upload { key, .. } | Op::CreateLegacy { key, .. } => !exists(key),
            Op::UploadDisabled { store, .. } => m.store(store).is_some_and(|s| !s.enabled),
            Op::Download { key }
            | Op::DownloadRange { key, .. }
            | Op::GetSize { key }
            | Op::Delete { key }
            | Op::Upgrade { key } => exists(key),
            Op::UpgradeBatch { keys, .. } => keys.iter().all(exists),
            Op::ReadVia { key, store } | Op::DeleteVia { key, store } => {
                live(key) && m.store(store).is_some_and(|s| !s.enabled)
            }
            Op::BadLocation { .. } | Op::Missing { .. } => true,
            Op::Faulted { op, .. } => {
                m.caps.faults && !matches!(**op, Op::Faulted { .. }) && Self::preconditions(r, op)
            }
            Op::Restart => m.caps.restart,
        }
    }

    fn apply(mut r: Reference, op: &Op) -> Reference {
        let profile = r.profile;
        let m = &mut r.model;
        match op {
            Op::Upload {
                key,
                store,
                content,
                ..
            } => {
                m.next_key = m.next_key.max(key + 1);
                if let Ok(Form::Store(name)) = profile.expect_add(m, store.as_deref()) {
                    let volume_type = m.store(&name).map(|s| s.volume_type.clone());
                    m.images.insert(
                        *key,
                        Image {
                            content: *content,
                            volume_type,
                            form: Form::Store(name),
                            legacy: false,
                            deleted: false,
                        },
                    );
                }
            }
            Op::CreateLegacy {
                key,
                volume_type,
                content,
            } => {
                m.next_key = m.next_key.max(key + 1);
                m.images.insert(
                    *key,
                    Image {
                        content: *content,
                        volume_type: volume_type.clone(),
                        form: Form::Legacy,
                        legacy: true,
                        deleted: false,
                    },
                );
            }
            Op::Delete { key } => delete(m, profile, *key, None),
            Op::DeleteVia { key, store } => {
                delete(m, profile, *key, Some(&Form::Store(store.clone())))
            }
            Op::Upgrade { key } => upgrade(m, *key),
            Op::UpgradeBatch { keys, .. } => {
                for key in keys {
                    upgrade(m, *key);
                }
            }
            Op::Faulted { fault, op } => {
                if !profile.fails_under(*fault) {
                    return Self::apply(r, op);
                }
                // The wrapped call fails: an upload adds nothing (its key is still spent).
                if let Op::Upload { key, .. } = &**op {
                    m.next_key = m.next_key.max(key + 1);
                }
            }
            Op::UploadDisabled { .. }
            | Op::Download { .. }
            | Op::DownloadRange { .. }
            | Op::GetSize { .. }
            | Op::ReadVia { .. }
            | Op::BadLocation { .. }
            | Op::Missing { .. }
            | Op::Restart => {}
        }
        r
    }
}

/// Marks the image deleted when the driver accepts the delete (through `via`, if given).
fn delete(m: &mut Model, profile: DriverProfile, key: ImageKey, via: Option<&Form>) {
    if profile.expect_delete(m, key, via).is_ok() {
        if let Some(i) = m.images.get_mut(&key) {
            i.deleted = true;
        }
    }
}

fn upgrade(m: &mut Model, key: ImageKey) {
    let form = m.expect_upgrade(key);
    if let Some(i) = m.images.get_mut(&key) {
        i.form = form;
    }
}
