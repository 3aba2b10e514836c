//! The system under test side: runs each operation against the target, compares the answer
//! with the model's, and checks the invariants through the inspector after every step.
//! A mismatch panics with a one-line reason; the runner catches it and shrinks.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use cinderbox_digest::Md5;
use proptest_state_machine::StateMachineTest;
use uuid::Uuid;

use crate::invariant::Invariant;
use crate::machine::{BadKind, Call, Conformance, Op, Reference};
use crate::model::{Content, ErrorClass, Form, ImageKey, Model};
use crate::profile::DriverProfile;
use crate::session::Session;
use crate::target::TargetError;

thread_local! {
    /// The session cases run in; taken by a case and given back when it ends (or unwinds).
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

pub fn install_session(session: Session) {
    SESSION.with(|s| *s.borrow_mut() = Some(session));
}

pub fn take_session() -> Option<Session> {
    SESSION.with(|s| s.borrow_mut().take())
}

/// Where the target put an image.
#[derive(Clone, Debug)]
pub(crate) struct Handle {
    pub(crate) volume_id: String,
    pub(crate) location: String,
}

/// One running case.
pub struct Case {
    pub(crate) session: Option<Session>,
    /// The model before the step being applied (the framework hands us the one after).
    model: Model,
    /// The driver's documented differences, which every comparison goes through.
    profile: DriverProfile,
    pub(crate) handles: HashMap<ImageKey, Handle>,
    /// Set while a fault the driver's profile does not survive wraps the step: a call the
    /// model expects to succeed must fail with `backend` instead.
    faulted_fails: bool,
}

impl Drop for Case {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            install_session(s);
        }
    }
}

/// Fails the case, naming the invariant that fired (`crate::invariant`).
macro_rules! fail {
    ($inv:ident, $($arg:tt)*) => { $crate::violate!(Invariant::$inv, $($arg)*) };
}

pub(crate) fn harness<T>(what: &str, r: anyhow::Result<T>) -> T {
    r.unwrap_or_else(|e| fail!(Harness, "harness: {what}: {e:#}"))
}

/// Compares a result with the model's expectation (classes only for errors).
fn check<T: std::fmt::Debug, W: std::fmt::Debug>(
    op: &str,
    got: &Result<T, TargetError>,
    want: &Result<W, ErrorClass>,
) -> bool {
    match (got, want) {
        (Ok(_), Ok(_)) => true,
        (Err(e), Err(c)) if e.class == *c => false,
        (got, want) => fail!(Outcome, "{op}: expected {want:?}, got {got:?}"),
    }
}

/// A sink that compares what is written with the expected content as it arrives.
struct Compare {
    content: Content,
    offset: u64,
    seen: u64,
    mismatch: Option<u64>,
    md5: Md5,
}

impl Write for Compare {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let want = self
            .content
            .bytes(self.offset + self.seen, buf.len() as u64);
        if self.mismatch.is_none() {
            if let Some(i) = want.iter().zip(buf).position(|(a, b)| a != b) {
                self.mismatch = Some(self.offset + self.seen + i as u64);
            }
        }
        self.md5.update(buf);
        self.seen += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn volume_of(location: &str) -> Option<&str> {
    location
        .strip_prefix("cinder://")
        .map(|r| r.rsplit('/').next().unwrap_or(r))
}

fn location_for(form: &Form, volume_id: &str) -> String {
    match form {
        Form::Store(s) => format!("cinder://{s}/{volume_id}"),
        Form::Legacy => format!("cinder://{volume_id}"),
    }
}

impl Case {
    fn session(&mut self) -> &mut Session {
        self.session.as_mut().expect("the case holds the session")
    }

    fn handle(&self, key: ImageKey) -> Handle {
        self.handles
            .get(&key)
            .cloned()
            .unwrap_or_else(|| fail!(Harness, "harness: image {key} has no location"))
    }

    /// Reads `offset..` (`length` or to the end) of image `key` through `location` and
    /// compares with the model.
    fn read(&mut self, op: &str, key: ImageKey, location: &str, offset: u64, length: Option<u64>) {
        let profile = self.profile;
        let want = self
            .model
            .expect_read(key, offset, length)
            .map_err(|c| profile.get_error(c))
            .and_then(|r| self.fault_outcome(r));
        let content = self
            .model
            .images
            .get(&key)
            .map(|i| i.content)
            .unwrap_or(Content::EMPTY);
        let mut sink = Compare {
            content,
            offset,
            seen: 0,
            mismatch: None,
            md5: Md5::new(),
        };
        let got = self
            .session()
            .target
            .get(location, offset, length, &mut sink);
        if !check(op, &got, &want) {
            return;
        }
        let (_, expected_len) = want.unwrap_or_default();
        if let Some(at) = sink.mismatch {
            fail!(
                ReadBytes,
                "{op}: bytes differ from what was written, first at offset {at}"
            );
        }
        if sink.seen != expected_len || got.as_ref().ok() != Some(&expected_len) {
            fail!(
                ReadLength,
                "{op}: read {} bytes (reported {got:?}), expected {expected_len}",
                sink.seen
            );
        }
        if offset == 0 && length.is_none() && sink.md5.finish_hex() != content.digests().0 {
            fail!(
                ReadChecksum,
                "{op}: md5 of the bytes read back differs from the written image's"
            );
        }
    }

    fn run(&mut self, op: &Op) {
        let name = format!("{op:?}");
        match op {
            Op::Upload {
                key,
                store,
                content,
                declared,
            } => self.upload(&name, *key, store.as_deref(), content, *declared),
            Op::UploadDisabled {
                store,
                content,
                declared,
            } => self.upload(&name, ImageKey::MAX, Some(store), content, *declared),
            Op::Download { key } => {
                let h = self.handle(*key);
                self.read(&name, *key, &h.location, 0, None);
            }
            Op::DownloadRange {
                key,
                offset,
                length,
            } => {
                let h = self.handle(*key);
                self.read(&name, *key, &h.location, *offset, Some(*length));
            }
            Op::ReadVia { key, store } => {
                let h = self.handle(*key);
                self.read(
                    &name,
                    *key,
                    &format!("cinder://{store}/{}", h.volume_id),
                    0,
                    None,
                );
            }
            Op::GetSize { key } => {
                let h = self.handle(*key);
                // Under an outage of `volume.show` nothing can be known: an error, even
                // for a deleted image (Cinder never got to say 404).
                let want = if self.faulted_fails {
                    Err(ErrorClass::Backend)
                } else {
                    self.model.expect_read(*key, 0, None).map(|(_, l)| l)
                };
                let got = self.session().target.get_size(&h.location);
                if check(&name, &got, &want) && got.as_ref().ok() != want.as_ref().ok() {
                    fail!(Size, "{name}: size {got:?}, expected {want:?}");
                }
            }
            Op::Delete { key } => {
                let h = self.handle(*key);
                self.delete(&name, *key, None, &h.location);
            }
            Op::DeleteVia { key, store } => {
                let h = self.handle(*key);
                let via = Form::Store(store.clone());
                self.delete(&name, *key, Some(&via), &location_for(&via, &h.volume_id));
            }
            Op::CreateLegacy {
                key,
                volume_type,
                content,
            } => {
                let image_id = Uuid::new_v4().to_string();
                let fill = self.model.caps.legacy_bytes;
                let session = self.session();
                session
                    .image_ids
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(image_id.clone());
                let id = harness(
                    "creating a legacy volume",
                    session.inspector.create_legacy(
                        &image_id,
                        volume_type.as_deref(),
                        content,
                        fill,
                    ),
                );
                self.handles.insert(
                    *key,
                    Handle {
                        location: format!("cinder://{id}"),
                        volume_id: id,
                    },
                );
            }
            Op::Upgrade { key } => {
                let h = self.handle(*key);
                let want = location_for(&self.model.expect_upgrade(*key), &h.volume_id);
                let got = self.session().target.upgrade_location(&h.location);
                match got {
                    Ok(new) if new == want => self.set_location(*key, new),
                    other => fail!(
                        Upgrade,
                        "{name}: upgrade of {} expected Ok({want}), got {other:?}",
                        h.location
                    ),
                }
            }
            Op::UpgradeBatch { keys, with_bad } => {
                let mut inputs: Vec<String> =
                    keys.iter().map(|k| self.handle(*k).location).collect();
                let mut wants: Vec<Result<String, ErrorClass>> = keys
                    .iter()
                    .map(|k| {
                        Ok(location_for(
                            &self.model.expect_upgrade(*k),
                            &self.handle(*k).volume_id,
                        ))
                    })
                    .collect();
                if *with_bad {
                    inputs.push("cinder://not-a-uuid".into());
                    wants.push(Err(ErrorClass::BadLocation));
                }
                let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                let got = self.session().target.upgrade_locations(&refs);
                let got_classes: Vec<Result<String, ErrorClass>> =
                    got.iter().map(|r| r.clone().map_err(|e| e.class)).collect();
                if got_classes != wants {
                    fail!(
                        Upgrade,
                        "{name}: batch upgrade of {inputs:?} expected {wants:?}, got {got:?}"
                    );
                }
                for (key, new) in keys.iter().zip(got_classes) {
                    if let Ok(new) = new {
                        self.set_location(*key, new);
                    }
                }
            }
            Op::BadLocation { kind, call } => {
                let uuid = "4f1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
                let location = match kind {
                    BadKind::NotUuid => "cinder://fast/not-a-uuid".to_string(),
                    BadKind::OtherScheme => format!("rbd://{uuid}"),
                    BadKind::NoScheme => uuid.to_string(),
                    BadKind::UnknownStore => format!("cinder://nosuch/{uuid}"),
                };
                // A location that already names a store is left as it is by the upgrade.
                let unchanged = matches!((kind, call), (BadKind::UnknownStore, Call::Upgrade));
                let want = if unchanged {
                    Ok(location.clone())
                } else {
                    Err(ErrorClass::BadLocation)
                };
                self.call(&name, *call, &location, want);
            }
            Op::Missing {
                volume,
                legacy,
                call,
            } => {
                let id = Uuid::from_u128(*volume).hyphenated().to_string();
                let form = if *legacy {
                    Form::Legacy
                } else {
                    Form::Store(self.model.default_store.clone())
                };
                let location = location_for(&form, &id);
                let want = match call {
                    Call::Upgrade => Ok(location.clone()),
                    Call::Get => Err(self.profile.get_error(ErrorClass::NotFound)),
                    Call::GetSize | Call::Delete => Err(ErrorClass::NotFound),
                };
                self.call(&name, *call, &location, want);
            }
            Op::Faulted { fault, op } => {
                let control = self
                    .session()
                    .faults
                    .as_ref()
                    .map(|f| harness("installing a fault", f.add(&fault.rule())));
                let expect_ok = match &**op {
                    Op::Upload { store, .. } => self
                        .profile
                        .expect_add(&self.model, store.as_deref())
                        .is_ok(),
                    Op::Download { key } => {
                        self.model.expect_read(*key, 0, None).is_ok() && fault.hits_download()
                    }
                    // every driver's get_size shows the volume
                    Op::GetSize { .. } => fault.is_outage(),
                    _ => false,
                };
                self.faulted_fails = self.profile.fails_under(*fault);
                self.run(op);
                self.faulted_fails = false;
                if let Some(id) = control {
                    let faults = self
                        .session()
                        .faults
                        .as_ref()
                        .expect("faults installed above");
                    let counters = harness("reading fault counters", faults.counters(&id));
                    harness("removing a fault", faults.remove(&id));
                    if expect_ok && counters.fired == 0 {
                        fail!(FaultFired, "{name}: the injected fault never fired; the fault catalogue and the driver disagree on the call it targets");
                    }
                }
            }
            Op::Restart => harness("restarting the emulator", self.session().restart()),
        }
    }

    /// Hands a location to one store call; only the outcome class and value are compared.
    fn call(&mut self, name: &str, call: Call, location: &str, want: Result<String, ErrorClass>) {
        let target = &self.session().target;
        let got: Result<String, TargetError> = match call {
            Call::GetSize => target.get_size(location).map(|s| s.to_string()),
            Call::Get => target
                .get(location, 0, None, &mut std::io::sink())
                .map(|n| n.to_string()),
            Call::Delete => target.delete(location).map(|()| String::new()),
            Call::Upgrade => target.upgrade_location(location),
        };
        if check(name, &got, &want)
            && matches!(call, Call::Upgrade)
            && got.as_ref().ok() != want.as_ref().ok()
        {
            fail!(Upgrade, "{name}: expected {want:?}, got {got:?}");
        }
    }

    /// Deletes image `key` through `location` (naming `via`, if given) and compares. A driver
    /// whose delete returns before Cinder is done (`delete_returns_before_gone`) is polled
    /// with `get_size` until the volume is gone, so later steps and the leak check see the
    /// deleted state.
    fn delete(&mut self, name: &str, key: ImageKey, via: Option<&Form>, location: &str) {
        let profile = self.profile;
        let want = profile.expect_delete(&self.model, key, via);
        let got = self.session().target.delete(location);
        if !check(name, &got, &want) || !profile.delete_returns_before_gone {
            return;
        }
        let settle = self.session().delete_settle();
        let deadline = Instant::now() + settle;
        loop {
            match self.session().target.get_size(location) {
                Err(e) if e.class == ErrorClass::NotFound => return,
                last if Instant::now() >= deadline => fail!(
                    DeleteSettles,
                    "{name}: the volume behind {location} was not gone {} s after the delete returned (last get_size: {last:?})",
                    settle.as_secs()
                ),
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// A success the model expects, unless a fault the driver does not survive wraps it.
    fn fault_outcome<T>(&self, ok: T) -> Result<T, ErrorClass> {
        if self.faulted_fails {
            Err(ErrorClass::Backend)
        } else {
            Ok(ok)
        }
    }

    fn set_location(&mut self, key: ImageKey, location: String) {
        if let Some(h) = self.handles.get_mut(&key) {
            h.location = location;
        }
    }

    fn upload(
        &mut self,
        name: &str,
        key: ImageKey,
        store: Option<&str>,
        content: &Content,
        declared: bool,
    ) {
        let want = self
            .profile
            .expect_add(&self.model, store)
            .and_then(|r| self.fault_outcome(r));
        let image_id = Uuid::new_v4().to_string();
        let session = self.session();
        session
            .image_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(image_id.clone());
        let got = session.target.add(
            store,
            &image_id,
            declared.then_some(content.len),
            &mut content.reader(),
        );
        if let Ok(added) = &got {
            if let Some(id) = volume_of(&added.location) {
                session
                    .ours
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id.to_string());
            }
        }
        if !check(name, &got, &want) {
            return;
        }
        let (Ok(added), Ok(Form::Store(store))) = (got, want) else {
            return;
        };
        let volume_id = volume_of(&added.location).unwrap_or_default().to_string();
        let (md5, sha256) = content.digests();
        let expected_location = format!("cinder://{store}/{volume_id}");
        if Uuid::parse_str(&volume_id).is_err() || added.location != expected_location {
            fail!(
                AddAnswer,
                "{name}: location {} does not name store '{store}' and a volume id",
                added.location
            );
        }
        if added.size != content.len
            || added.checksum != md5
            || added.multihash != sha256
            || added.store != store
        {
            fail!(
                AddAnswer,
                "{name}: add answered size {} checksum {} multihash {} store {}, expected {} {md5} {sha256} {store}",
                added.size, added.checksum, added.multihash, added.store, content.len
            );
        }
        self.handles.insert(
            key,
            Handle {
                volume_id,
                location: added.location,
            },
        );
    }
}

impl StateMachineTest for Conformance {
    type SystemUnderTest = Case;
    type Reference = Conformance;

    fn init_test(reference: &Reference) -> Case {
        let (model, profile) = (&reference.model, reference.profile);
        let mut session = take_session().expect("the runner installs a session first");
        let begun = session.begin_case();
        let mut case = Case {
            session: Some(session),
            model: model.clone(),
            profile,
            handles: HashMap::new(),
            faulted_fails: false,
        };
        harness("starting the case", begun);
        let stores = case.session().target.stores();
        let stores = harness("listing stores", stores.map_err(anyhow::Error::from));
        for s in &model.stores {
            let got = stores.iter().find(|t| t.name == s.name).map(|t| &t.state);
            let want = if profile.store_writable(s.enabled) {
                crate::adapter::StoreState::Enabled
            } else {
                crate::adapter::StoreState::Disabled
            };
            if got != Some(&want) {
                fail!(
                    StoreHealth,
                    "store '{}' (type '{}') reported {got:?}, expected {want:?}",
                    s.name,
                    s.volume_type
                );
            }
        }
        case
    }

    fn apply(mut case: Case, reference: &Reference, op: Op) -> Case {
        let started = std::time::Instant::now();
        case.run(&op);
        if std::env::var_os("CINDERBOX_CONFORMANCE_TRACE").is_some() {
            eprintln!("  {:>6} ms  {op:?}", started.elapsed().as_millis());
        }
        case.model = reference.model.clone();
        case
    }

    fn check_invariants(case: &Case, reference: &Reference) {
        case.invariants(&reference.model);
    }

    /// Reads every live image back whole, then removes what the case created.
    fn teardown(mut case: Case, reference: Reference) {
        for (key, _) in reference.model.live() {
            let h = case.handle(*key);
            case.read(
                &format!("final read-back of image {key}"),
                *key,
                &h.location,
                0,
                None,
            );
        }
        let session = case.session();
        harness("cleaning up", session.cleanup());
    }
}
