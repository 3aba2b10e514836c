//! Concurrent workers: N driver instances (our driver in process, or one adapter process
//! each) on one emulator, the same stores and the same images at once, as several Glance
//! API workers on one host. Every call's interval and outcome is recorded; the case
//! passes when some serial order consistent with real time (a call that ended before
//! another began comes first) explains every outcome by the reference model, and
//! Cinder's state at the end is what that order leaves. Beyond the serial outcomes,
//! only Cinder's own refusals of overlapping calls are accepted: a delete that meets a
//! read of the same image attached (400, image kept), a read or a delete that meets a
//! delete of the same image under way, and, for drivers whose delete returns before the
//! volume is gone, a read after it that still finds it. Adapter workers read as Glance
//! does: they stop at the image's size and close the read when their next call starts.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

use crate::adapter::AdapterCommand;
use crate::machine::{Conformance, Op, Reference};
use crate::model::{Content, ErrorClass, ImageKey, Model};
use crate::profile::DriverProfile;
use crate::session::{EmulatorOptions, Session, Shape, Where};
use crate::target::DriverTarget;
use proptest_state_machine::ReferenceStateMachine;

mod worker;
use worker::Worker;

/// Which driver each worker runs.
#[derive(Clone, Debug)]
pub enum Driver {
    /// Our driver, in process (one `DriverTarget` per worker).
    Rust,
    /// One adapter process per worker.
    Adapter(AdapterCommand),
}

#[derive(Clone, Debug)]
pub struct Options {
    pub workers: usize,
    pub ops_per_worker: usize,
    /// Images uploaded before the workers start, which they all use.
    pub shared_images: usize,
    pub cases: u32,
    pub seed: u64,
    /// Shrink attempts for a failing case (each replays it up to three times).
    pub max_shrink_iters: u32,
}

/// One call a worker makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerOp {
    Download(ImageKey),
    GetSize(ImageKey),
    Delete(ImageKey),
    /// A new image of this worker's own.
    Upload(ImageKey, Content),
}

impl WorkerOp {
    fn key(self) -> ImageKey {
        match self {
            WorkerOp::Download(k)
            | WorkerOp::GetSize(k)
            | WorkerOp::Delete(k)
            | WorkerOp::Upload(k, _) => k,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Got {
    Bytes { len: u64, md5: String },
    Size(u64),
    Done,
    Added,
}

#[derive(Clone, Debug)]
struct Record {
    worker: usize,
    op: WorkerOp,
    start: Instant,
    end: Instant,
    got: Result<Got, ErrorClass>,
}

/// The result of one case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub seed: u64,
    /// Per worker, its calls.
    pub plan: Vec<Vec<WorkerOp>>,
    pub failure: Option<String>,
}

/// The calls of one case, per worker, from `seed`.
pub fn plan(seed: u64, o: &Options) -> Vec<Vec<WorkerOp>> {
    let mut rng = Dice(seed);
    let shared = o.shared_images.max(1) as ImageKey;
    let mut next_key = shared;
    (0..o.workers)
        .map(|_| {
            (0..o.ops_per_worker)
                .map(|_| {
                    let k = rng.below(shared as u64) as ImageKey;
                    match rng.below(10) {
                        0..=3 => WorkerOp::Download(k),
                        4..=5 => WorkerOp::GetSize(k),
                        6..=7 => WorkerOp::Delete(k),
                        _ => {
                            next_key += 1;
                            WorkerOp::Upload(
                                next_key - 1,
                                Content {
                                    seed: rng.next(),
                                    len: rng.below(16 << 10),
                                },
                            )
                        }
                    }
                })
                .collect()
        })
        .collect()
}

/// SplitMix64: the plan's and the workers' pauses' dice, reproducible from the seed.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn image_id(seed: u64, key: ImageKey) -> String {
    uuid::Uuid::from_u64_pair(seed, key as u64)
        .hyphenated()
        .to_string()
}

fn shared_content(key: ImageKey) -> Content {
    Content {
        seed: 0xc0c0 + key as u64,
        len: 6000 + 1000 * key as u64,
    }
}

/// Runs one planned case on a fresh emulator; `None` when it passes.
pub fn run_case(
    driver: &Driver,
    profile: DriverProfile,
    seed: u64,
    plan: &[Vec<WorkerOp>],
    shared_images: usize,
) -> Result<Option<String>> {
    let place = Where::Emulator(EmulatorOptions::default());
    let shape = Shape {
        max_image_bytes: 16 << 10,
        large: false,
    };
    let mut session = Session::with_profile(
        place,
        shape,
        Box::new(|| Box::new(DriverTarget::new())),
        profile,
    )?;
    session.disable_transient_faults();
    session.begin_case()?;
    let dir = tempfile::tempdir()?;
    let workers: Vec<Worker> = (0..plan.len())
        .map(|w| Worker::start(driver, &session.conf_text, dir.path().join(format!("w{w}"))))
        .collect::<Result<_>>()?;
    let mut model = session.template.clone();
    let mut locations: BTreeMap<ImageKey, String> = BTreeMap::new();
    for key in 0..shared_images.max(1) as ImageKey {
        let content = shared_content(key);
        let location = workers[0]
            .add(&image_id(seed, key), content)
            .map_err(|c| anyhow!("uploading shared image {key}: {c:?}"))?;
        model = upload(model, profile, key, content);
        locations.insert(key, location);
    }
    let records = run_workers(&workers, plan, &locations, seed);
    for w in &workers {
        w.release();
    }
    let records = match records {
        Ok(r) => r,
        Err(e) => return Ok(Some(e)),
    };
    let verdict = explain(&model, profile, &records).err();
    let verdict = match verdict {
        Some(v) => Some(v),
        None => final_state(&session, &records, &locations, seed, profile).err(),
    };
    for w in workers {
        if let Worker::Adapter { adapter, .. } = w {
            let _ = adapter.shutdown();
        }
    }
    let _ = session.cleanup();
    Ok(verdict.map(|v| format!("{v}\n{}", timeline(&records))))
}

/// The model after an upload the driver with `profile` accepted.
fn upload(m: Model, profile: DriverProfile, key: ImageKey, content: Content) -> Model {
    let op = Op::Upload {
        key,
        store: None,
        content,
        declared: true,
    };
    let reference = Reference { model: m, profile };
    <Conformance as ReferenceStateMachine>::apply(reference, &op).model
}

fn run_workers(
    workers: &[Worker],
    plan: &[Vec<WorkerOp>],
    locations: &BTreeMap<ImageKey, String>,
    seed: u64,
) -> Result<Vec<Record>, String> {
    let mut all = Vec::new();
    let mut panicked = 0;
    std::thread::scope(|scope| {
        let handles: Vec<_> = workers
            .iter()
            .zip(plan)
            .enumerate()
            .map(|(w, (worker, ops))| {
                scope.spawn(move || {
                    let mut rng = Dice(seed ^ (w as u64 + 1).wrapping_mul(0x5851_f42d));
                    let mut out = Vec::new();
                    for op in ops {
                        std::thread::sleep(Duration::from_millis(rng.below(40)));
                        worker.release();
                        let start = Instant::now();
                        let loc = locations.get(&op.key());
                        let got = match (*op, loc) {
                            (WorkerOp::Download(_), Some(l)) => worker.get(l),
                            (WorkerOp::GetSize(_), Some(l)) => worker.get_size(l).map(Got::Size),
                            (WorkerOp::Delete(_), Some(l)) => worker.delete(l).map(|()| Got::Done),
                            (WorkerOp::Upload(k, c), _) => {
                                worker.add(&image_id(seed, k), c).map(|_| Got::Added)
                            }
                            (_, None) => Err(ErrorClass::NotFound),
                        };
                        out.push(Record {
                            worker: w,
                            op: *op,
                            start,
                            end: Instant::now(),
                            got,
                        });
                    }
                    out
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(records) => all.extend(records),
                Err(_) => panicked += 1,
            }
        }
    });
    if panicked > 0 {
        return Err(format!("{panicked} worker(s) panicked"));
    }
    Ok(all)
}

fn overlaps(a: &Record, b: &Record) -> bool {
    a.start < b.end && b.start < a.end
}

/// Whether `r` meets, at the same time, a call of `kind` on its image by another worker.
fn meets(records: &[Record], r: &Record, kind: fn(WorkerOp) -> bool) -> bool {
    records
        .iter()
        .any(|o| o.worker != r.worker && o.op.key() == r.op.key() && kind(o.op) && overlaps(o, r))
}

fn is_delete(op: WorkerOp) -> bool {
    matches!(op, WorkerOp::Delete(_))
}

fn is_read(op: WorkerOp) -> bool {
    matches!(op, WorkerOp::Download(_))
}

/// The model after `r` when its outcome fits at this point of a serial order.
fn step(
    m: &Model,
    profile: DriverProfile,
    records: &[Record],
    r: &Record,
    deleted_before: bool,
) -> Option<Model> {
    let key = r.op.key();
    let late_read = deleted_before && profile.delete_returns_before_gone;
    match r.op {
        WorkerOp::Download(_) => {
            let ok = match (m.expect_read(key, 0, None), &r.got) {
                (Ok((_, len)), Ok(Got::Bytes { len: l, md5 })) => {
                    let want = m.images[&key].content.digests().0;
                    *l == len && *md5 == want
                }
                (Err(c), Err(g)) => profile.get_error(c) == *g,
                (Err(_), Ok(Got::Bytes { .. })) => late_read,
                _ => false,
            };
            let refused = r.got == Err(ErrorClass::Backend) && meets(records, r, is_delete);
            (ok || refused).then(|| m.clone())
        }
        WorkerOp::GetSize(_) => {
            let ok = match (m.expect_read(key, 0, None), &r.got) {
                (Ok((_, len)), Ok(Got::Size(s))) => *s == len,
                (Err(c), Err(g)) => c == *g,
                (Err(_), Ok(Got::Size(_))) => late_read,
                _ => false,
            };
            ok.then(|| m.clone())
        }
        WorkerOp::Delete(_) => {
            let want = profile.expect_delete(m, key, None);
            match (&want, &r.got) {
                (Ok(()), Ok(Got::Done)) => {
                    let mut next = m.clone();
                    if let Some(i) = next.images.get_mut(&key) {
                        i.deleted = true;
                    }
                    Some(next)
                }
                (Err(c), Err(g)) if c == g => Some(m.clone()),
                // Cinder refuses a delete of a volume attached or already deleting
                (_, Err(ErrorClass::Backend))
                    if meets(records, r, is_read) || meets(records, r, is_delete) =>
                {
                    Some(m.clone())
                }
                (Err(ErrorClass::NotFound), Err(ErrorClass::Backend)) if late_read => {
                    Some(m.clone())
                }
                _ => None,
            }
        }
        WorkerOp::Upload(k, content) => match (profile.expect_add(m, None), &r.got) {
            (Ok(_), Ok(Got::Added)) => Some(upload(m.clone(), profile, k, content)),
            (Err(c), Err(g)) if c == *g => Some(m.clone()),
            _ => None,
        },
    }
}

/// Searches a serial order consistent with real time that explains every outcome.
fn explain(start: &Model, profile: DriverProfile, records: &[Record]) -> Result<(), String> {
    fn dfs(
        m: &Model,
        profile: DriverProfile,
        records: &[Record],
        done: u64,
        deleted: u64,
        seen: &mut HashSet<(u64, u64)>,
    ) -> bool {
        if done.count_ones() as usize == records.len() {
            return true;
        }
        if !seen.insert((done, deleted)) {
            return false;
        }
        for (i, r) in records.iter().enumerate() {
            if done & (1 << i) != 0 {
                continue;
            }
            // every call that ended before r began must come first
            let blocked = records
                .iter()
                .enumerate()
                .any(|(j, o)| done & (1 << j) == 0 && j != i && o.end < r.start);
            if blocked {
                continue;
            }
            let key_bit = 1u64 << (r.op.key() as u64 % 64);
            if let Some(next) = step(m, profile, records, r, deleted & key_bit != 0) {
                let deleted = if is_delete(r.op) && r.got.is_ok() {
                    deleted | key_bit
                } else {
                    deleted
                };
                if dfs(&next, profile, records, done | (1 << i), deleted, seen) {
                    return true;
                }
            }
        }
        false
    }
    if records.len() > 63 {
        return Err("too many calls in one case (at most 63)".into());
    }
    if dfs(start, profile, records, 0, 0, &mut HashSet::new()) {
        Ok(())
    } else {
        Err("no serial order of the calls explains their outcomes".into())
    }
}

/// After every worker stopped: each shared image is gone iff a delete of it succeeded,
/// live ones are `available` with no attachment, and no other `image-*` volume exists.
fn final_state(
    session: &Session,
    records: &[Record],
    locations: &BTreeMap<ImageKey, String>,
    seed: u64,
    profile: DriverProfile,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let uploaded: HashSet<String> = records
        .iter()
        .filter(|r| matches!(r.op, WorkerOp::Upload(..)) && r.got.is_ok())
        .map(|r| format!("image-{}", image_id(seed, r.op.key())))
        .collect();
    loop {
        let volumes = session.inspector.volumes().map_err(|e| e.to_string())?;
        let mut problems = Vec::new();
        for (key, location) in locations {
            let id = location.rsplit('/').next().unwrap_or(location);
            let gone = records
                .iter()
                .any(|r| r.op == WorkerOp::Delete(*key) && r.got.is_ok());
            match (volumes.iter().find(|v| v.id == id), gone) {
                (Some(v), true) => problems.push(format!(
                    "image {key} was deleted, its volume is {}",
                    v.status
                )),
                (Some(v), false) if v.status != "available" || v.attachments > 0 => {
                    problems.push(format!(
                        "image {key}'s volume is {} with {} attachment(s)",
                        v.status, v.attachments
                    ))
                }
                _ => {}
            }
        }
        let shared: HashSet<String> = (0..locations.len() as ImageKey)
            .map(|k| format!("image-{}", image_id(seed, k)))
            .collect();
        for v in &volumes {
            if v.name.starts_with("image-")
                && !uploaded.contains(&v.name)
                && !shared.contains(&v.name)
            {
                problems.push(format!("leak: volume {} ({}, {})", v.id, v.name, v.status));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "at the end ({}): {}",
                profile.name,
                problems.join("; ")
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn timeline(records: &[Record]) -> String {
    let t0 = records.iter().map(|r| r.start).min();
    let mut rows: Vec<&Record> = records.iter().collect();
    rows.sort_by_key(|r| r.start);
    rows.iter()
        .map(|r| {
            let at = |t: Instant| t0.map_or(0, |s| t.duration_since(s).as_millis());
            format!(
                "    worker {} {:>6}–{:<6} ms {:?} → {:?}",
                r.worker,
                at(r.start),
                at(r.end),
                r.op,
                r.got
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `o.cases` cases; a failing one is shrunk by dropping calls (each candidate
/// replayed up to three times: interleavings differ between runs).
pub fn run(
    driver: &Driver,
    profile: DriverProfile,
    o: &Options,
    progress: &dyn Fn(&CaseResult),
) -> Result<Vec<CaseResult>> {
    let mut results = Vec::new();
    for i in 0..o.cases {
        let seed = crate::runner::case_seed(o.seed, i as u64);
        let mut plan = plan(seed, o);
        let mut failure = run_case(driver, profile, seed, &plan, o.shared_images)?;
        if failure.is_some() {
            let mut iters = 0;
            'shrink: while iters < o.max_shrink_iters {
                for w in 0..plan.len() {
                    for j in 0..plan[w].len() {
                        iters += 1;
                        let mut smaller = plan.clone();
                        smaller[w].remove(j);
                        for _ in 0..3 {
                            if let Some(f) =
                                run_case(driver, profile, seed, &smaller, o.shared_images)?
                            {
                                plan = smaller;
                                failure = Some(f);
                                continue 'shrink;
                            }
                        }
                    }
                }
                break;
            }
        }
        let result = CaseResult {
            seed,
            plan,
            failure,
        };
        progress(&result);
        let failed = result.failure.is_some();
        results.push(result);
        if failed {
            break;
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests;
