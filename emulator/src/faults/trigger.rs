//! Triggers: given how many times a rule has matched (this one included) and its dice,
//! does it fire now?

use super::rng::SplitMix64;
use super::rule::Trigger;

impl Trigger {
    /// `matched` is 1-based: the count including the current match.
    pub fn fires(&self, matched: u64, dice: &mut SplitMix64) -> bool {
        match *self {
            Trigger::Always => true,
            Trigger::First(n) => matched <= n,
            Trigger::Nth(n) => matched == n,
            Trigger::After(n) => matched > n,
            Trigger::Probability { p, .. } => dice.next_f64() < p,
        }
    }

    /// The dice a rule starts with (and gets back on reset).
    pub fn dice(&self) -> SplitMix64 {
        match *self {
            Trigger::Probability { seed, .. } => SplitMix64::new(seed),
            _ => SplitMix64::new(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(t: Trigger, expected: &str) {
        let mut dice = t.dice();
        let got: String = (1..=8)
            .map(|n| if t.fires(n, &mut dice) { 'x' } else { '.' })
            .collect();
        assert_eq!(got, expected, "{t:?}");
    }

    #[test]
    fn trigger_table() {
        check(Trigger::Always, "xxxxxxxx");
        check(Trigger::First(2), "xx......");
        check(Trigger::Nth(3), "..x.....");
        check(Trigger::After(5), ".....xxx");
        check(Trigger::After(0), "xxxxxxxx");
        check(Trigger::Probability { p: 0.0, seed: 1 }, "........");
        check(Trigger::Probability { p: 1.0, seed: 1 }, "xxxxxxxx");
    }

    #[test]
    fn probability_is_reproducible_per_seed() {
        let run = |seed| {
            let t = Trigger::Probability { p: 0.5, seed };
            let mut dice = t.dice();
            (1..=64).map(|n| t.fires(n, &mut dice)).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
        let hits = run(42).iter().filter(|x| **x).count();
        assert!((16..=48).contains(&hits), "p=0.5 gave {hits}/64");
    }
}
