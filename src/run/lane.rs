//! One provider's lane: a governor limiter for submits and one for polls, and a
//! shared cooldown. After a rate-limited answer (HTTP 429, MiniMax 1002) every
//! worker of that provider waits (Retry-After, else a growing backoff, plus
//! jitter) and the submit rate drops to just under what the provider accepted in
//! the last minute (for a sliding-window limit, that count is the limit); the
//! learnt ceiling creeps up slowly afterwards in case the provider's limit rises. Lanes are independent: a MiniMax cooldown
//! never slows Runware.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;

use crate::catalog::Provider;

/// The lowest fraction of the configured rate the lane slows to.
const MIN_FACTOR: f64 = 1.0 / 16.0;
/// A rate that met a limit is too high: the ceiling drops below it by this much.
const CEILING_CUT: f64 = 0.9;
/// After a limit, the rate restarts this far below the new ceiling.
const RESTART: f64 = 0.85;
/// How much of the distance to the ceiling one success closes.
const APPROACH: f64 = 0.1;
/// How much the ceiling rises per accepted submit (of the configured rate), to probe upward.
const CREEP: f64 = 0.0005;
/// The share of the observed limit the lane settles at.
const MARGIN: f64 = 0.95;

/// The limits a lane enforces.
#[derive(Clone, Debug, PartialEq)]
pub struct LaneLimits {
    pub submits_per_minute: u32,
    pub polls_per_minute: u32,
    pub max_in_flight: u32,
}

impl LaneLimits {
    /// Documented or conservative defaults: MiniMax allows 5 video RPM; Segmind's
    /// free plan 5 RPM; Runware documents no hard limit.
    pub fn default_for(p: Provider) -> LaneLimits {
        match p {
            Provider::Runware => LaneLimits { submits_per_minute: 120, polls_per_minute: 120, max_in_flight: 8 },
            Provider::Minimax => LaneLimits { submits_per_minute: 5, polls_per_minute: 60, max_in_flight: 5 },
            Provider::Segmind => LaneLimits { submits_per_minute: 5, polls_per_minute: 60, max_in_flight: 5 },
        }
    }
}

struct Gate {
    /// No request of this provider before this moment.
    cooldown_until: Instant,
    /// Rate limits in a row (for the backoff when no Retry-After came).
    strikes: u32,
    /// The submit rate as a fraction of the configured one.
    factor: f64,
    /// The highest fraction believed safe (learnt from rate limits).
    ceiling: f64,
    /// The next moment a slowed submit may go.
    next_slot: Instant,
    /// Accepted submits in the last (simulated) minute.
    accepted: std::collections::VecDeque<Instant>,
}

/// Which kind of request met a rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Submit,
    Poll,
}

pub struct Lane {
    pub provider: Provider,
    pub limits: LaneLimits,
    submit: DefaultDirectRateLimiter,
    poll: DefaultDirectRateLimiter,
    submit_interval: Duration,
    gate: Mutex<Gate>,
    /// Real seconds per simulated second (1 outside rehearsals and tests).
    time_scale: f64,
}

fn per_minute(n: u32, time_scale: f64) -> Quota {
    // A rehearsal runs the night faster: limits scale with it. Burst 1, so that a
    // limit of N per minute never sends N at once.
    let period = Duration::from_secs_f64((60.0 / f64::from(n.max(1))) * time_scale).max(Duration::from_micros(100));
    Quota::with_period(period).expect("positive period").allow_burst(NonZeroU32::MIN)
}

impl Lane {
    pub fn new(provider: Provider, limits: LaneLimits, time_scale: f64) -> Lane {
        let now = Instant::now();
        Lane {
            provider,
            submit: RateLimiter::direct(per_minute(limits.submits_per_minute, time_scale)),
            poll: RateLimiter::direct(per_minute(limits.polls_per_minute, time_scale)),
            submit_interval: Duration::from_secs_f64(60.0 / f64::from(limits.submits_per_minute.max(1)) * time_scale),
            limits,
            gate: Mutex::new(Gate {
                cooldown_until: now,
                strikes: 0,
                factor: 1.0,
                ceiling: 1.0,
                next_slot: now,
                accepted: Default::default(),
            }),
            time_scale,
        }
    }

    fn gate(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn wait_cooldown(&self) {
        loop {
            let until = self.gate().cooldown_until;
            if until <= Instant::now() {
                return;
            }
            tokio::time::sleep_until(until.into()).await;
        }
    }

    /// Waits until a submit may go: cooldown, the configured rate, and the
    /// slower pace left by recent rate limits.
    pub async fn before_submit(&self) {
        loop {
            self.wait_cooldown().await;
            self.submit.until_ready().await;
            let slot = {
                let mut g = self.gate();
                if g.factor >= 1.0 {
                    None
                } else {
                    // Slowed, submits take turns at the slower interval (the limiter
                    // alone would let them through at the configured rate).
                    let slot = g.next_slot.max(Instant::now());
                    g.next_slot = slot + self.submit_interval.mul_f64(1.0 / g.factor);
                    Some(slot)
                }
            };
            if let Some(slot) = slot {
                tokio::time::sleep_until(slot.into()).await;
            }
            // A limit that struck meanwhile voids the turn: queue again behind the cooldown.
            if !self.cooling() {
                return;
            }
        }
    }

    /// Waits until a poll may go.
    pub async fn before_poll(&self) {
        self.wait_cooldown().await;
        self.poll.until_ready().await;
    }

    /// A rate-limited answer: everyone waits; a limited submit also slows submits
    /// to just under the rate the provider accepted over the last minute.
    pub fn rate_limited(&self, kind: Kind, retry_after: Option<Duration>) {
        let mut g = self.gate();
        g.strikes += 1;
        let now = Instant::now();
        let minute = Duration::from_secs_f64(60.0 * self.time_scale);
        while g.accepted.front().is_some_and(|t| now.duration_since(*t) > minute) {
            g.accepted.pop_front();
        }
        let backoff = Duration::from_secs_f64((2f64.powi(g.strikes.min(6) as i32)).min(60.0) * self.time_scale);
        // Without Retry-After (MiniMax says nothing), a per-minute limit frees a
        // slot when the oldest submit of the last minute leaves its window.
        let window_frees = match (kind, g.accepted.front()) {
            (Kind::Submit, Some(oldest)) => (*oldest + minute).saturating_duration_since(now),
            _ => Duration::ZERO,
        };
        let wait = retry_after.map_or(backoff.max(window_frees), |ra| ra.max(Duration::from_millis(1)));
        // Jitter spreads the workers' return so they do not hit the limit together.
        let jitter = wait.mul_f64(rand::rng().random_range(0.0..0.2));
        let until = now + wait + jitter;
        if until > g.cooldown_until {
            g.cooldown_until = until;
        }
        // Turns handed out before the limit struck start again after the cooldown.
        g.next_slot = g.next_slot.max(g.cooldown_until);
        if kind == Kind::Poll {
            return;
        }
        let seen = g.accepted.len() as f64 / f64::from(self.limits.submits_per_minute.max(1));
        let ceiling = if seen > 0.0 { seen * MARGIN } else { g.factor * CEILING_CUT };
        // Only lower: a burst of limits must not raise the ceiling again.
        g.ceiling = g.ceiling.min(ceiling).max(MIN_FACTOR);
        let restart = if seen > 0.0 { 1.0 } else { RESTART };
        g.factor = g.factor.min(g.ceiling * restart).max(MIN_FACTOR);
        tracing::debug!(provider = %self.provider, seen = g.accepted.len(), ceiling = g.ceiling, factor = g.factor, ?wait, "rate limited");
    }

    /// An accepted submit: the rate closes in on the ceiling, which creeps up.
    pub fn submit_accepted(&self) {
        let mut g = self.gate();
        g.strikes = 0;
        let now = Instant::now();
        g.accepted.push_back(now);
        if g.accepted.len() > 100_000 {
            g.accepted.pop_front();
        }
        g.ceiling = (g.ceiling + CREEP).min(1.0);
        g.factor = (g.factor + (g.ceiling - g.factor) * APPROACH).min(g.ceiling);
        if g.ceiling >= 1.0 && g.factor > 0.999 {
            g.factor = 1.0;
        }
    }

    /// An answered poll ends a run of rate limits.
    pub fn poll_answered(&self) {
        self.gate().strikes = 0;
    }

    /// Whether the lane is cooling down now (for progress).
    pub fn cooling(&self) -> bool {
        self.gate().cooldown_until > Instant::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane() -> Lane {
        Lane::new(
            Provider::Minimax,
            LaneLimits { submits_per_minute: 600, polls_per_minute: 600, max_in_flight: 2 },
            1.0,
        )
    }

    #[tokio::test]
    async fn retry_after_makes_every_worker_wait_and_success_recovers_the_rate() {
        let l = lane();
        l.rate_limited(Kind::Submit, Some(Duration::from_millis(150)));
        assert!(l.cooling());
        let t = Instant::now();
        l.before_poll().await;
        assert!(t.elapsed() >= Duration::from_millis(150), "{:?}", t.elapsed());
        assert!(l.gate().factor < 1.0);
        assert!(l.gate().ceiling < 1.0, "the rate that met the limit is remembered");
        for _ in 0..200 {
            l.submit_accepted();
        }
        assert!(l.gate().factor > 0.8 && l.gate().factor < 1.0, "most of the way back, carefully: {}", l.gate().factor);
        for _ in 0..4000 {
            l.submit_accepted();
        }
        assert_eq!(l.gate().factor, 1.0, "and all the way back eventually");
    }

    #[tokio::test]
    async fn submits_keep_the_configured_spacing() {
        let l = lane(); // 600 per minute: one per 100 ms, burst 1
        let t = Instant::now();
        for _ in 0..4 {
            l.before_submit().await;
        }
        let e = t.elapsed();
        assert!(e >= Duration::from_millis(290), "4 submits at 10/s take ≥ 0.3 s, took {e:?}");
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn a_limited_submit_settles_just_under_what_was_accepted_in_the_last_minute() {
        // 60 per minute configured; 30 accepted in the last minute when the limit struck.
        let l = Lane::new(
            Provider::Runware,
            LaneLimits { submits_per_minute: 60, polls_per_minute: 60, max_in_flight: 9 },
            1.0,
        );
        for _ in 0..30 {
            l.submit_accepted();
        }
        l.rate_limited(Kind::Submit, None);
        let g = l.gate();
        assert!((g.ceiling - 0.475).abs() < 1e-9, "{}", g.ceiling);
        assert!(g.factor <= g.ceiling);
    }

    #[test]
    fn a_limited_poll_cools_down_but_leaves_the_submit_rate() {
        let l = Lane::new(
            Provider::Minimax,
            LaneLimits { submits_per_minute: 60, polls_per_minute: 60, max_in_flight: 9 },
            1.0,
        );
        l.rate_limited(Kind::Poll, Some(Duration::from_millis(50)));
        assert!(l.cooling());
        assert_eq!(l.gate().factor, 1.0);
    }
}
