//! The live rules in order, each with its counters (`matched`, `fired`), dice and
//! sequence cursor; first firing rule wins. Held under one short lock: deciding never
//! awaits or does I/O.

use serde_json::{json, Value};

use super::matching::Facts;
use super::rng::SplitMix64;
use super::rule::{Effect, HttpEffect, Phase, Rule, Step};

/// Where a rule came from: a scenario file survives `reset`, an API rule does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Scenario,
    Api,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Scenario => "scenario",
            Source::Api => "api",
        }
    }
}

#[derive(Debug)]
struct Live {
    rule: Rule,
    source: Source,
    matched: u64,
    fired: u64,
    dice: SplitMix64,
    /// Next step of a sequence effect.
    cursor: usize,
}

/// What a fired rule asks for, with any randomness already drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Http(HttpEffect),
    Transition(super::rule::TransitionSpec),
    BitRot {
        bytes: u32,
        seed: u64,
        region_mib: u64,
    },
    Hold {
        status: crate::volume::status::VolumeStatus,
        for_ms: u64,
    },
    Truncate,
}

#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<Live>,
    /// For ids of rules that name none.
    next_auto: u64,
}

impl RuleSet {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.rules.iter().any(|l| l.rule.id == id)
    }

    /// A fresh id (`fault-N`) that no live rule uses.
    pub fn auto_id(&mut self) -> String {
        loop {
            self.next_auto += 1;
            let id = format!("fault-{}", self.next_auto);
            if !self.contains(&id) {
                return id;
            }
        }
    }

    pub fn push(&mut self, rule: Rule, source: Source) {
        self.rules.push(Live {
            dice: rule.trigger.dice(),
            rule,
            source,
            matched: 0,
            fired: 0,
            cursor: 0,
        });
    }

    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.rules.len();
        self.rules.retain(|l| l.rule.id != id);
        self.rules.len() != before
    }

    pub fn views(&self) -> Vec<Value> {
        self.rules.iter().map(view).collect()
    }

    pub fn view_of(&self, id: &str) -> Option<Value> {
        self.rules.iter().find(|l| l.rule.id == id).map(view)
    }

    /// The widest region (MiB) of the bit-rot rules that would match `facts`, without
    /// counting them; `None` when none would.
    pub fn bit_rot_region_mib(&self, facts: &Facts) -> Option<u64> {
        self.rules
            .iter()
            .filter(|l| l.rule.matcher.matches(facts))
            .filter_map(|l| match l.rule.effect {
                Effect::BitRot { region_mib, .. } => Some(region_mib),
                _ => None,
            })
            .max()
    }

    /// Counts the match on every rule of `phase` consulted, and returns the first one
    /// that fires. Rules after the firing one are not consulted (nor counted).
    pub fn pick(&mut self, phase: Phase, facts: &Facts) -> Option<(String, Action)> {
        for l in &mut self.rules {
            if l.rule.effect.phase() != phase || !l.rule.matcher.matches(facts) {
                continue;
            }
            l.matched += 1;
            if !l.rule.trigger.fires(l.matched, &mut l.dice) {
                continue;
            }
            let action = match &l.rule.effect {
                Effect::Http(e) => Action::Http(e.clone()),
                Effect::Sequence(steps) => {
                    let step = &steps[l.cursor.min(steps.len() - 1)];
                    l.cursor += 1;
                    match step {
                        Step::Ok => continue,
                        Step::Do(e) => Action::Http(e.clone()),
                    }
                }
                Effect::Transition(t) => Action::Transition(*t),
                Effect::BitRot {
                    bytes,
                    seed,
                    region_mib,
                } => Action::BitRot {
                    bytes: *bytes,
                    // Each firing rots different bytes, reproducibly.
                    seed: seed.wrapping_add(l.fired),
                    region_mib: *region_mib,
                },
                Effect::Hold { status, for_ms } => Action::Hold {
                    status: *status,
                    for_ms: *for_ms,
                },
                Effect::Truncate => Action::Truncate,
            };
            let action = match action {
                Action::Http(HttpEffect::Latency { min_ms, max_ms }) => {
                    let ms = l.dice.between(min_ms, max_ms);
                    Action::Http(HttpEffect::Latency {
                        min_ms: ms,
                        max_ms: ms,
                    })
                }
                other => other,
            };
            l.fired += 1;
            return Some((l.rule.id.clone(), action));
        }
        None
    }

    /// Back to the given rules with fresh counters and dice.
    pub fn replace(&mut self, rules: Vec<Rule>) {
        self.rules.clear();
        for r in rules {
            self.push(r, Source::Scenario);
        }
    }
}

fn view(l: &Live) -> Value {
    let mut v = match &l.rule.spec {
        Value::Object(m) => Value::Object(m.clone()),
        _ => json!({}),
    };
    v["id"] = json!(l.rule.id);
    v["source"] = json!(l.source.as_str());
    v["matched"] = json!(l.matched);
    v["fired"] = json!(l.fired);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::parse::parse_rule;

    fn rule(v: Value, id: &str) -> Rule {
        parse_rule(&v, id).unwrap()
    }

    fn create() -> Facts {
        Facts {
            operation: Some("volume.create".into()),
            ..Facts::default()
        }
    }

    #[test]
    fn sequence_steps_then_last_repeats_and_counters_count() {
        let mut set = RuleSet::default();
        set.push(
            rule(json!({"effect": {"sequence": ["503", "503", "ok"]}}), "seq"),
            Source::Api,
        );
        let got: Vec<bool> = (0..5)
            .map(|_| set.pick(Phase::Http, &create()).is_some())
            .collect();
        assert_eq!(got, [true, true, false, false, false]);
        let v = set.view_of("seq").unwrap();
        assert_eq!(
            (v["matched"].as_u64(), v["fired"].as_u64()),
            (Some(5), Some(2))
        );
        assert_eq!(v["source"], "api");
    }

    #[test]
    fn first_firing_rule_wins_and_later_rules_are_not_counted() {
        let mut set = RuleSet::default();
        set.push(
            rule(json!({"trigger": {"nth": 2}, "effect": "500"}), "a"),
            Source::Api,
        );
        set.push(rule(json!({"effect": "503"}), "b"), Source::Api);
        let ids: Vec<String> = (0..3)
            .map(|_| set.pick(Phase::Http, &create()).unwrap().0)
            .collect();
        assert_eq!(ids, ["b", "a", "b"]);
        assert_eq!(set.view_of("a").unwrap()["matched"], 3);
        assert_eq!(set.view_of("b").unwrap()["matched"], 2);
    }

    #[test]
    fn phases_are_kept_apart_and_latency_ranges_are_drawn() {
        let mut set = RuleSet::default();
        set.push(
            rule(
                json!({"operation": "volume.create", "effect": {"transition": "stay"}}),
                "t",
            ),
            Source::Scenario,
        );
        set.push(
            rule(json!({"effect": {"latency_ms": [10, 20]}}), "l"),
            Source::Api,
        );
        let (id, a) = set.pick(Phase::Http, &create()).unwrap();
        assert_eq!(id, "l");
        match a {
            Action::Http(HttpEffect::Latency { min_ms, max_ms }) => {
                assert_eq!(min_ms, max_ms);
                assert!((10..=20).contains(&min_ms));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(set.view_of("t").unwrap()["matched"], 0);
        assert!(matches!(
            set.pick(Phase::Job, &create()),
            Some((_, Action::Transition(_)))
        ));
        set.replace(vec![]);
        assert!(set.views().is_empty());
        assert!(!set.remove("l"));
    }
}
