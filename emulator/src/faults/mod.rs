//! Fault injection. This first cut only carries the hook points that the request
//! pipeline and the background jobs consult; the rules engine fills them in.

use std::time::Duration;

use uuid::Uuid;

use crate::volume::jobs::{Job, Outcome};
use crate::App;

/// The set of active fault rules.
#[derive(Debug, Default)]
pub struct Faults {}

impl Faults {
    /// How a background transition should run: by default after `base`, successfully.
    /// Called when an attachment of `volume_id` gets its `connection_info`, before the
    /// client can open the file: where at-rest faults (bit rot) are applied.
    pub fn on_attach(&self, _app: &App, _volume_id: Uuid) {}

    pub fn plan_transition(
        &self,
        _app: &App,
        _volume_id: Uuid,
        _job: Job,
        base: Duration,
    ) -> (Duration, Outcome) {
        (base, Outcome::Succeed)
    }
}
