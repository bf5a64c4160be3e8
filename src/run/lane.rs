//! One provider's lane: a governor limiter for submits and one for polls, and a
//! shared cooldown. After a rate-limited answer (HTTP 429, MiniMax 1002) every
//! worker of that provider waits (Retry-After, else a growing backoff, plus
//! jitter) and submits are spaced wider; each success narrows them again. Lanes
//! are independent: a MiniMax cooldown never slows Runware.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;

use crate::catalog::Provider;

/// How much wider submits are spaced at most after rate limits (×16 the interval).
const MAX_SLOWDOWN: f64 = 16.0;
/// How much of the slowdown one success takes back.
const RECOVERY_STEP: f64 = 0.05;

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
    /// Submit interval multiplier (1 = the configured rate).
    slowdown: f64,
    /// The next moment a slowed submit may go.
    next_slot: Instant,
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
            gate: Mutex::new(Gate { cooldown_until: now, strikes: 0, slowdown: 1.0, next_slot: now }),
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
    /// extra spacing left by recent rate limits.
    pub async fn before_submit(&self) {
        self.wait_cooldown().await;
        self.submit.until_ready().await;
        let slot = {
            let mut g = self.gate();
            if g.slowdown <= 1.0 {
                None
            } else {
                let slot = g.next_slot.max(Instant::now());
                g.next_slot = slot + self.submit_interval.mul_f64(g.slowdown - 1.0);
                Some(slot)
            }
        };
        if let Some(slot) = slot {
            tokio::time::sleep_until(slot.into()).await;
        }
        self.wait_cooldown().await;
    }

    /// Waits until a poll may go.
    pub async fn before_poll(&self) {
        self.wait_cooldown().await;
        self.poll.until_ready().await;
    }

    /// A rate-limited answer: everyone waits, submits slow down.
    pub fn rate_limited(&self, retry_after: Option<Duration>) {
        let mut g = self.gate();
        g.strikes += 1;
        let backoff = Duration::from_secs_f64((2f64.powi(g.strikes.min(6) as i32)).min(60.0) * self.time_scale);
        let wait = retry_after.map_or(backoff, |ra| ra.max(Duration::from_millis(1)));
        // Jitter spreads the workers' return so they do not hit the limit together.
        let jitter = wait.mul_f64(rand::rng().random_range(0.0..0.2));
        let until = Instant::now() + wait + jitter;
        if until > g.cooldown_until {
            g.cooldown_until = until;
        }
        g.slowdown = (g.slowdown * 2.0).min(MAX_SLOWDOWN);
    }

    /// An accepted request: the slowdown recovers a step.
    pub fn succeeded(&self) {
        let mut g = self.gate();
        g.strikes = 0;
        g.slowdown = (g.slowdown - RECOVERY_STEP * g.slowdown).max(1.0);
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
        l.rate_limited(Some(Duration::from_millis(150)));
        assert!(l.cooling());
        let t = Instant::now();
        l.before_poll().await;
        assert!(t.elapsed() >= Duration::from_millis(150), "{:?}", t.elapsed());
        assert!(l.gate().slowdown > 1.0);
        for _ in 0..200 {
            l.succeeded();
        }
        assert_eq!(l.gate().slowdown, 1.0);
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
