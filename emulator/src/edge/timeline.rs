//! The volumes' status timeline for the dashboard: every committed status change, told
//! by the store through [`volume::hooks::Observer`](crate::volume::hooks::Observer),
//! kept with its time (the last [`CAPACITY`] changes).

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;
use uuid::Uuid;

use crate::volume::hooks::Observer;
use crate::volume::status::VolumeStatus;

/// How many status changes the timeline keeps.
pub const CAPACITY: usize = 5000;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Step {
    pub volume_id: Uuid,
    /// RFC 3339, when the change was committed.
    pub time: String,
    /// `None`: the volume did not exist before (its create).
    pub from: Option<&'static str>,
    /// `None`: the volume is gone (its delete).
    pub to: Option<&'static str>,
}

#[derive(Debug, Default)]
pub struct Timeline {
    steps: Mutex<VecDeque<Step>>,
}

impl Timeline {
    fn steps(&self) -> std::sync::MutexGuard<'_, VecDeque<Step>> {
        self.steps.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every kept change, oldest first.
    pub fn all(&self) -> Vec<Step> {
        self.steps().iter().cloned().collect()
    }

    pub fn clear(&self) {
        self.steps().clear();
    }
}

impl Observer for Timeline {
    fn volume_status(
        &self,
        volume_id: Uuid,
        before: Option<VolumeStatus>,
        after: Option<VolumeStatus>,
    ) {
        let step = Step {
            volume_id,
            time: crate::timefmt::keystone(crate::timefmt::now_us()),
            from: before.map(VolumeStatus::as_str),
            to: after.map(VolumeStatus::as_str),
        };
        let mut steps = self.steps();
        if steps.len() == CAPACITY {
            steps.pop_front();
        }
        steps.push_back(step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeline_is_bounded_and_in_order() {
        let t = Timeline::default();
        let id = Uuid::new_v4();
        t.volume_status(id, None, Some(VolumeStatus::Creating));
        t.volume_status(
            id,
            Some(VolumeStatus::Creating),
            Some(VolumeStatus::Available),
        );
        let all = t.all();
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].from, all[0].to), (None, Some("creating")));
        assert_eq!(all[1].to, Some("available"));
        for _ in 0..CAPACITY {
            t.volume_status(id, None, None);
        }
        assert_eq!(t.all().len(), CAPACITY);
        assert_eq!(t.all()[0].to, None);
        t.clear();
        assert!(t.all().is_empty());
    }
}
