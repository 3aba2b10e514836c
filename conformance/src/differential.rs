//! The differential run: each known upstream glance_store bug probed against each pinned
//! release and against our driver (the reference), on a fresh embedded emulator per probe,
//! with what was seen as evidence. `cinderbox-differential` prints the table that
//! `docs/conformance.md` quotes. The probes reach the driver only through the adapter
//! protocol, Cinder only through the suite's `Inspector` and the fault control API.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};

use crate::adapter::{Adapter, AdapterCommand, GlanceStoreVersion};
use crate::adapter_target::AdapterPool;
use crate::faults::TransientFault;
use crate::invariant::Invariant;
use crate::machine::Op;
use crate::model::{Content, GIB};
use crate::profile::DriverProfile;
use crate::runner;
use crate::session::{EmulatorOptions, Session, Shape, Where};

/// The known upstream bugs the run probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// One 503 on `GET /volumes/{id}` during the wait after create fails the add and leaves
    /// the volume behind (glance_store_cinder.md §3 step 5).
    LeakOn503,
    /// An unknown-size upload that crosses a GiB boundary extends offline and reopens the
    /// device with `'wb'`: the bytes before the boundary are lost (§8.3).
    TruncationOnOfflineExtend,
    /// `get_size` answers 0 when Cinder answers anything but 404 (§4).
    GetSizeZeroOnError,
    /// A read that stops at the image's size leaves the volume attached until the iterator
    /// is closed, so another worker's immediate delete fails (LP#2154211, fixed in 5.6.0).
    DeleteWhileStillAttached,
    /// The driver returns from a read before Cinder has finished the detach, so a delete
    /// right after it fails while the volume is `detaching` (emulator: `hold`).
    DeleteWhileDetaching,
    /// An attachment create refused with Cinder's "status must be … to reserve" while
    /// another worker holds the volume fails the upload (LP#1969373, LP#2148167; retried
    /// since long before 5.4.1; emulator: `refuse`).
    ReserveRefusalFails,
    /// Any other 400 on attachment create is retried too, for seconds, instead of failing
    /// at once (before 5.5.0; `DriverProfile::retries_any_attachment_400`).
    RetriesAnyAttach400,
}

impl Bug {
    pub const ALL: [Bug; 7] = [
        Bug::LeakOn503,
        Bug::TruncationOnOfflineExtend,
        Bug::GetSizeZeroOnError,
        Bug::DeleteWhileStillAttached,
        Bug::DeleteWhileDetaching,
        Bug::ReserveRefusalFails,
        Bug::RetriesAnyAttach400,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bug::LeakOn503 => "leak on a 503 in the create wait",
            Bug::TruncationOnOfflineExtend => "truncation on offline extend",
            Bug::GetSizeZeroOnError => "get_size is 0 on a 500/503",
            Bug::DeleteWhileStillAttached => "read leaves the volume attached; delete fails",
            Bug::DeleteWhileDetaching => "delete right after a read while the detach is slow",
            Bug::ReserveRefusalFails => {
                "a reservation refused while another worker holds the volume fails the upload"
            }
            Bug::RetriesAnyAttach400 => "any 400 on attachment create is retried",
        }
    }
}

/// Who is probed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// Our driver behind `cinderbox-rust-adapter`.
    Ours,
    Upstream(GlanceStoreVersion),
}

impl Subject {
    pub fn label(self) -> String {
        match self {
            Subject::Ours => "cinderbox (ours)".into(),
            Subject::Upstream(v) => format!("glance_store {v}"),
        }
    }

    pub fn profile(self) -> DriverProfile {
        match self {
            Subject::Ours => DriverProfile::RUST,
            Subject::Upstream(v) => DriverProfile::for_glance_store(v),
        }
    }
}

/// What a probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Reproduced(String),
    NotReproduced(String),
    /// The probe could not run here (with why).
    NotRun(String),
}

impl Verdict {
    pub fn reproduced(&self) -> bool {
        matches!(self, Verdict::Reproduced(_))
    }

    pub fn cell(&self) -> String {
        match self {
            Verdict::Reproduced(e) => format!("**reproduced**: {e}"),
            Verdict::NotReproduced(e) => format!("not reproduced: {e}"),
            Verdict::NotRun(e) => format!("not run: {e}"),
        }
    }
}

/// Where probes run.
#[derive(Clone, Debug, Default)]
pub struct ProbeOptions {
    /// Every volume type on the emulator's NFS backend.
    pub nfs: bool,
}

/// Runs one probe of `bug` against `subject` through `command`.
pub fn probe(
    bug: Bug,
    subject: Subject,
    command: &AdapterCommand,
    options: &ProbeOptions,
) -> Result<Verdict> {
    match bug {
        Bug::LeakOn503 => leak_on_503(subject, command, options),
        Bug::TruncationOnOfflineExtend => truncation(subject, command, options),
        Bug::GetSizeZeroOnError => get_size_zero(subject, command, options),
        Bug::DeleteWhileStillAttached => delete_while_attached(subject, command, options),
        Bug::DeleteWhileDetaching => delete_while_detaching(subject, command, options),
        Bug::ReserveRefusalFails => upload_under_refusal(subject, command, options, true),
        Bug::RetriesAnyAttach400 => upload_under_refusal(subject, command, options, false),
    }
}

fn session(subject: Subject, command: &AdapterCommand, options: &ProbeOptions) -> Result<Session> {
    let place = Where::Emulator(EmulatorOptions {
        nfs: options.nfs,
        state_timeout_s: 5,
        delay: Duration::ZERO,
        ..EmulatorOptions::default()
    });
    let shape = Shape {
        max_image_bytes: 16 << 10,
        large: false,
    };
    let pool = AdapterPool::new(command.clone()).context("adapter work directory")?;
    let mut session = Session::with_profile(
        place,
        shape,
        Box::new(move || Box::new(pool.target())),
        subject.profile(),
    )?;
    session.disable_transient_faults();
    Ok(session)
}

/// A raw adapter configured for the session's emulator (the session must have begun).
fn adapter(command: &AdapterCommand, session: &Session, work: &Path) -> Result<Adapter> {
    let adapter = Adapter::spawn(command)?;
    std::fs::create_dir_all(work)?;
    adapter.configure(&session.conf_text, work)?;
    Ok(adapter)
}

fn volume_id(location: &str) -> &str {
    location.rsplit('/').next().unwrap_or(location)
}

/// The suite's own shrunk case, replayed: a 503 once on `volume.show` around an upload.
fn leak_on_503(subject: Subject, command: &AdapterCommand, o: &ProbeOptions) -> Result<Verdict> {
    let ops = vec![Op::Faulted {
        fault: TransientFault::Show503,
        op: Box::new(Op::Upload {
            key: 0,
            store: None,
            content: Content::EMPTY,
            declared: false,
        }),
    }];
    let shown = "1 step: Faulted { Show503, Upload { unknown size } }";
    let (got, mut session) = runner::replay_ops(session(subject, command, o)?, ops);
    let _ = session.cleanup();
    Ok(match got {
        Err(v) if v.invariant == Invariant::NoVolumeLeak => {
            Verdict::Reproduced(format!("`{shown}` fails [{}]: {}", v.invariant, v.message))
        }
        Err(v) => Verdict::NotReproduced(format!("fails otherwise: {v}")),
        Ok(()) => Verdict::NotReproduced(format!("`{shown}` passes")),
    })
}

/// An image, a `volume.show` outage of 500 and then of 503 (the suite's generated
/// `Faulted { ShowFails500 | ShowFails503, GetSize }`), the size each answers.
fn get_size_zero(subject: Subject, command: &AdapterCommand, o: &ProbeOptions) -> Result<Verdict> {
    let mut session = session(subject, command, o)?;
    session.begin_case()?;
    let dir = tempfile::tempdir()?;
    let a = adapter(command, &session, &dir.path().join("a"))?;
    let content = Content {
        seed: 0x5e12,
        len: 4096,
    };
    let image = dir.path().join("image");
    std::fs::write(&image, content.bytes(0, content.len))?;
    let added = a.add(
        None,
        "0d7c38d4-5a5e-4a39-9b0e-3f0c8e2f5a01",
        Some(content.len),
        &image,
    )?;
    let faults = session
        .faults
        .as_ref()
        .ok_or_else(|| anyhow!("the emulator has no fault engine"))?;
    let mut seen = Vec::new();
    let mut zeros = 0;
    for fault in TransientFault::SHOW_OUTAGES {
        let id = faults.add(&fault.rule())?;
        let got = a.get_size(&added.location);
        let fired = faults.counters(&id)?.fired;
        faults.remove(&id)?;
        let status = if fault == TransientFault::ShowFails500 {
            500
        } else {
            503
        };
        match got {
            Ok(size) => {
                zeros += u32::from(size == 0);
                seen.push(format!("{status} → size {size}"));
            }
            Err(e) => seen.push(format!(
                "{status} → error `{}`",
                e.class().map_or("?", |c| c.as_str())
            )),
        }
        if fired == 0 {
            return Ok(Verdict::NotRun(format!("the {status} rule never fired")));
        }
    }
    a.delete(&added.location)?;
    let _ = a.shutdown();
    let _ = session.cleanup();
    let evidence = format!(
        "{} of a {}-byte image (model: `backend` error)",
        seen.join(", "),
        content.len
    );
    Ok(if zeros > 0 {
        Verdict::Reproduced(evidence)
    } else {
        Verdict::NotReproduced(evidence)
    })
}

/// Worker A reads a one-chunk image and stops at its size, as a Glance worker whose client
/// has every byte before the worker pulls the iterator's end; worker B deletes the image.
fn delete_while_attached(
    subject: Subject,
    command: &AdapterCommand,
    o: &ProbeOptions,
) -> Result<Verdict> {
    let mut session = session(subject, command, o)?;
    session.begin_case()?;
    let dir = tempfile::tempdir()?;
    let a = adapter(command, &session, &dir.path().join("a"))?;
    let b = adapter(command, &session, &dir.path().join("b"))?;
    let content = Content {
        seed: 0xd7ac,
        len: 8192,
    };
    let image = dir.path().join("image");
    std::fs::write(&image, content.bytes(0, content.len))?;
    let added = a.add(
        None,
        "7c1e8f0a-2b4d-4e6f-8a9b-0c1d2e3f4a5b",
        Some(content.len),
        &image,
    )?;
    let read = a.get_held_open(&added.location, None, &dir.path().join("out"))?;
    let id = volume_id(&added.location).to_string();
    let state = match session.inspector.volume(&id)? {
        Some(v) => format!("`{}` with {} attachment(s)", v.status, v.attachments),
        None => "gone".into(),
    };
    let deleted = b.delete(&added.location);
    let released = a.release()?;
    let evidence = format!(
        "A read {read} of {} bytes (held {released} iterator(s)); the volume was {state}; B's delete: {}",
        content.len,
        match &deleted {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("`{}`", without_request_id(&e.to_string())),
        }
    );
    if deleted.is_err() {
        // detached now that A closed its iterator
        session.inspector.wait_status(&id, "available")?;
        b.delete(&added.location)?;
    }
    let _ = a.shutdown();
    let _ = b.shutdown();
    let _ = session.cleanup();
    Ok(if deleted.is_err() {
        Verdict::Reproduced(evidence)
    } else {
        Verdict::NotReproduced(evidence)
    })
}

/// Worker A uploads and reads an image (draining the read) while Cinder's detach takes
/// 3 s (`hold = "detaching"` on `attachment.delete`); worker B deletes it right after.
fn delete_while_detaching(
    subject: Subject,
    command: &AdapterCommand,
    o: &ProbeOptions,
) -> Result<Verdict> {
    let mut session = session(subject, command, o)?;
    session.begin_case()?;
    let dir = tempfile::tempdir()?;
    let a = adapter(command, &session, &dir.path().join("a"))?;
    let b = adapter(command, &session, &dir.path().join("b"))?;
    let content = Content {
        seed: 0xde7a,
        len: 8192,
    };
    let image = dir.path().join("image");
    std::fs::write(&image, content.bytes(0, content.len))?;
    let added = a.add(
        None,
        "2f4e6a8c-0b1d-4f3a-9c5e-7a9b1c3d5e7f",
        Some(content.len),
        &image,
    )?;
    let faults = session
        .faults
        .as_ref()
        .ok_or_else(|| anyhow!("the emulator has no fault engine"))?;
    let rule = faults.add(&serde_json::json!({
        "description": "differential: a slow detach", "operation": "attachment.delete",
        "effect": {"hold": "detaching", "for_ms": 3000}}))?;
    let read = a.get(&added.location, 0, None, &dir.path().join("out"))?;
    let id = volume_id(&added.location).to_string();
    let state = session
        .inspector
        .volume(&id)?
        .map_or("gone".to_string(), |v| format!("`{}`", v.status));
    let deleted = b.delete(&added.location);
    let fired = faults.counters(&rule)?.fired;
    faults.remove(&rule)?;
    let evidence = format!(
        "A read {read} bytes and returned with the volume {state} (hold fired {fired}×); B's delete: {}",
        match &deleted {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("`{}`", without_request_id(&e.to_string())),
        }
    );
    if deleted.is_err() {
        session.inspector.wait_status(&id, "available")?;
        b.delete(&added.location)?;
    }
    let _ = a.shutdown();
    let _ = b.shutdown();
    let _ = session.cleanup();
    Ok(if deleted.is_err() {
        Verdict::Reproduced(evidence)
    } else {
        Verdict::NotReproduced(evidence)
    })
}

/// An upload whose first two attachment creates are refused: with Cinder's reserve text
/// (`refuse = "reserved"`, as when another worker holds the volume) when `reserve_text`,
/// else with another 400. Reproduced: the reserve refusal fails the upload / the other
/// 400 is retried into a success.
fn upload_under_refusal(
    subject: Subject,
    command: &AdapterCommand,
    o: &ProbeOptions,
    reserve_text: bool,
) -> Result<Verdict> {
    let mut session = session(subject, command, o)?;
    session.begin_case()?;
    let dir = tempfile::tempdir()?;
    let a = adapter(command, &session, &dir.path().join("a"))?;
    let faults = session
        .faults
        .as_ref()
        .ok_or_else(|| anyhow!("the emulator has no fault engine"))?;
    let effect = if reserve_text {
        serde_json::json!({"refuse": "reserved"})
    } else {
        serde_json::json!({"error": 400, "message": "Invalid input received: Connector doesn't have required information: initiator"})
    };
    let rule = faults.add(&serde_json::json!({
        "description": "differential: refused reservations", "operation": "attachment.create",
        "trigger": {"first": 2}, "effect": effect}))?;
    let content = Content {
        seed: 0x4e5e,
        len: 4096,
    };
    let image = dir.path().join("image");
    std::fs::write(&image, content.bytes(0, content.len))?;
    let started = std::time::Instant::now();
    let added = a.add(
        None,
        "5a7c9e1b-3d5f-4a7c-8e9a-1b3d5f7a9c1e",
        Some(content.len),
        &image,
    );
    let took = started.elapsed().as_secs_f64();
    let counters = faults.counters(&rule)?;
    faults.remove(&rule)?;
    let what = if reserve_text {
        "2 reservations refused with Cinder's reserve text"
    } else {
        "2 attachment creates refused with another 400"
    };
    let evidence = format!(
        "{what} ({} refused): upload {} after {took:.1} s",
        counters.fired,
        match &added {
            Ok(_) => "succeeded".to_string(),
            Err(e) => format!("failed `{}`", without_request_id(&e.to_string())),
        }
    );
    if let Ok(added) = &added {
        a.delete(&added.location)?;
    }
    let _ = a.shutdown();
    let _ = session.cleanup();
    let reproduced = if reserve_text {
        added.is_err()
    } else {
        added.is_ok()
    };
    Ok(if reproduced {
        Verdict::Reproduced(evidence)
    } else {
        Verdict::NotReproduced(evidence)
    })
}

/// 1 GiB + 4 MiB of unknown size (sparse: real bytes in the first 4 MiB and the last
/// 1 MiB), then the first 4 MiB read back.
fn truncation(subject: Subject, command: &AdapterCommand, o: &ProbeOptions) -> Result<Verdict> {
    const HEAD: u64 = 4 << 20;
    const TAIL: u64 = 1 << 20;
    let mut session = session(subject, command, o)?;
    session.begin_case()?;
    let dir = tempfile::tempdir()?;
    let a = adapter(command, &session, &dir.path().join("a"))?;
    let content = Content {
        seed: 0x7e1a,
        len: GIB + HEAD,
    };
    let image = dir.path().join("image");
    let head = sparse_image(&image, content, HEAD, TAIL)?;
    let (_, md5) = md5_file(&image)?;
    let added = match a.add(None, "6b1d5c9e-1f0a-4c1e-9d43-0a7e2b3c4d5e", None, &image) {
        Ok(added) => added,
        Err(e) => return Ok(Verdict::NotRun(format!("the upload failed: `{e}`"))),
    };
    let out = dir.path().join("out");
    a.get(&added.location, 0, Some(HEAD), &out)?;
    let back = std::fs::read(&out)?;
    let zeros = back.iter().all(|b| *b == 0);
    let first_diff = back.iter().zip(&head).position(|(x, y)| x != y);
    a.delete(&added.location)?;
    let _ = a.shutdown();
    let _ = session.cleanup();
    let reported = format!(
        "upload reported size {} and md5 {}",
        added.size,
        if added.checksum == md5 {
            "= sent"
        } else {
            "≠ sent"
        }
    );
    Ok(match first_diff {
        None if back.len() == head.len() => {
            Verdict::NotReproduced(format!("{reported}; the first 4 MiB read back intact"))
        }
        _ => Verdict::Reproduced(format!(
            "{reported}; the first 4 MiB read back {}",
            if zeros {
                "as zeros".to_string()
            } else {
                format!("different from offset {}", first_diff.unwrap_or(back.len()))
            }
        )),
    })
}

/// Cinder's request id changes every run: cut it from quoted messages.
fn without_request_id(text: &str) -> &str {
    text.split(" (Request-ID").next().unwrap_or(text)
}

/// Writes `content`'s first `head` bytes at the start of a sparse file of `content.len`
/// bytes whose last `tail` bytes are `content`'s too; returns the head.
pub fn sparse_image(path: &Path, content: Content, head: u64, tail: u64) -> Result<Vec<u8>> {
    let mut f = File::create(path)?;
    let first = content.bytes(0, head);
    f.write_all(&first)?;
    f.seek(SeekFrom::Start(content.len - tail))?;
    f.write_all(&content.bytes(content.len - tail, tail))?;
    f.sync_all()?;
    Ok(first)
}

/// Length and md5 hex of a file.
pub fn md5_file(path: &Path) -> Result<(u64, String)> {
    Ok(cinderbox_digest::md5_of(&mut File::open(path)?)?)
}

/// The table: one row per bug, one column per subject.
pub fn table(subjects: &[Subject], rows: &[(Bug, Vec<Verdict>)]) -> String {
    let mut out = String::from("| bug |");
    for s in subjects {
        out.push_str(&format!(" {} |", s.label()));
    }
    out.push_str("\n|---|");
    for _ in subjects {
        out.push_str("---|");
    }
    for (bug, verdicts) in rows {
        out.push_str(&format!("\n| {} |", bug.name()));
        for v in verdicts {
            out.push_str(&format!(" {} |", v.cell().replace('|', "\\|")));
        }
    }
    out.push('\n');
    out
}
