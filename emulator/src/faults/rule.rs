//! What a fault rule is, once validated: a [`Match`], a [`Trigger`] and an [`Effect`].
//! Parsing and validation live in `parse`; deciding whether a rule applies in `matching`
//! and `trigger`; carrying effects out in `effects`, `bitrot` and `plan_transition`.

use globset::GlobMatcher;
use serde_json::Value;

use crate::volume::status::VolumeStatus;

/// One validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub description: Option<String>,
    pub matcher: Match,
    pub trigger: Trigger,
    pub effect: Effect,
    /// The rule as written (TOML turned into JSON), shown back by the control API.
    pub spec: Value,
}

/// A glob with the text it came from.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub text: String,
    pub glob: GlobMatcher,
}

impl Pattern {
    pub fn is_match(&self, s: &str) -> bool {
        self.glob.is_match(s)
    }
}

/// What a request (or background job, or attach) must look like for the rule to apply.
/// Every field that is set must match; an unset field matches anything.
#[derive(Debug, Clone, Default)]
pub struct Match {
    /// Operation names or globs over them (`volume.action.*`); empty = any.
    pub operations: Vec<Pattern>,
    /// Upper-case HTTP method.
    pub method: Option<String>,
    /// Glob over the URL path (`*` stops at `/`, `**` does not).
    pub path: Option<Pattern>,
    /// Project id or name.
    pub project: Option<String>,
    /// Volume type name (or id).
    pub volume_type: Option<String>,
    /// Glob over the volume's name.
    pub volume_name: Option<Pattern>,
    /// Metadata key → glob over its value; every key must be present and match.
    pub volume_metadata: Vec<(String, Pattern)>,
}

/// When a matching request actually fires the effect; counted per rule over matches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    Always,
    /// The first N matches.
    First(u64),
    /// Only the Nth match (1-based).
    Nth(u64),
    /// Every match after the first N.
    After(u64),
    /// Each match with probability `p`, dice from `seed`.
    Probability {
        p: f64,
        seed: u64,
    },
}

/// An injected HTTP error.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorSpec {
    pub status: u16,
    /// The fault envelope key (`overLimit`, `serviceUnavailable`, ...).
    pub key: String,
    pub message: String,
    pub retry_after_s: Option<u64>,
    /// Run the real operation first, then answer the error (a "false negative").
    pub applied: bool,
}

/// A change to a background job (create, extend, delete).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionSpec {
    /// Stay in the transitional status forever, or for `for_ms` and then finish normally.
    Stay { for_ms: Option<u64> },
    /// End in the error status, after `delay_ms` (default: the normal delay).
    Fail { delay_ms: Option<u64> },
    /// Finish normally, but only after `delay_ms`.
    Slow { delay_ms: u64 },
}

/// A lie a careful client must catch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lie {
    /// Answer success without applying (metadata writes are applied, then undone).
    Ack,
    /// Create the volume with this type instead of the one asked for.
    VolumeType(String),
    /// Answer a volume show with this status instead of the volume's own (a Cinder that
    /// reports a volume ready while it is not); nothing is changed.
    Status(VolumeStatus),
}

/// Effects that answer (or delay) an HTTP request; the items of a sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpEffect {
    Error(ErrorSpec),
    Latency {
        min_ms: u64,
        max_ms: u64,
    },
    Hang {
        max_ms: u64,
    },
    Close,
    Lie(Lie),
    /// Refuse an attachment create with Cinder's 400 for a volume in `status` ("Volume
    /// <id> status must be available or downloading to reserve, but the current status
    /// is <status>."), whatever its real status.
    RefuseReserve {
        status: VolumeStatus,
    },
}

/// One step of a sequence: an effect, or `ok` (let the request through).
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Ok,
    Do(HttpEffect),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Http(HttpEffect),
    /// Steps taken in order, one per firing; the last one repeats.
    Sequence(Vec<Step>),
    Transition(TransitionSpec),
    /// Flip `bytes` bytes of the volume's written data when it is next attached.
    BitRot {
        bytes: u32,
        seed: u64,
        region_mib: u64,
    },
    /// After an attachment call, show the volume in `status` (`reserved`, `attaching`,
    /// `detaching`) for `for_ms` before the status its attachments give.
    Hold {
        status: VolumeStatus,
        for_ms: u64,
    },
    /// Grow the volume on `os-extend` but discard (zero) the bytes it held: the
    /// truncation a broken backend (or a driver reopening its device for writing) does.
    Truncate,
}

/// Where in the emulator a rule is consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// In the request pipeline, before the handler.
    Http,
    /// When a background job plans its transition.
    Job,
    /// When an attachment gets its connection info.
    Attach,
    /// After an attachment call committed ([`crate::volume::hooks::Hooks::hold`]).
    Hold,
}

impl Effect {
    pub fn phase(&self) -> Phase {
        match self {
            Effect::Http(_) | Effect::Sequence(_) => Phase::Http,
            Effect::Transition(_) | Effect::Truncate => Phase::Job,
            Effect::BitRot { .. } => Phase::Attach,
            Effect::Hold { .. } => Phase::Hold,
        }
    }
}

/// Upper bound on any hang, latency or job delay a rule may ask for (10 minutes).
pub const MAX_WAIT_MS: u64 = 600_000;
/// Upper bound on a transition delay (1 hour): long enough to look stuck.
pub const MAX_TRANSITION_MS: u64 = 3_600_000;

/// The statuses a `hold` may show: those of the attach flow.
pub const HOLD_STATUSES: [VolumeStatus; 3] = [
    VolumeStatus::Reserved,
    VolumeStatus::Attaching,
    VolumeStatus::Detaching,
];
