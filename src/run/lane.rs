//! One provider's lane: the pace of submits, a governor limiter for polls, and a
//! shared cooldown. After a rate-limited answer (HTTP 429, MiniMax 1002), or a
//! Runware 503/504 (its queue full), every worker of that provider waits
//! (Retry-After, else a growing backoff, plus jitter). Submits are paced AIMD: each accepted submit adds one request per minute
//! to the pace (up to the ceiling, when one is known), a rate-limited submit cuts
//! the pace to just under what the provider accepted in the last minute (for a
//! sliding-window limit, that count is the limit), and that ceiling then creeps up
//! by about one request per minute in case the limit rises. A limit from the
//! manifest is never passed; without one the lane starts at the provider's
//! documented limit and probes upward. Lanes are independent: a MiniMax cooldown
//! never slows Runware.
//!
//! A manifest's limit is read as written, N per minute: the lane may send them as a
//! burst (at `BURST`× the pace), counted over any minute, and learns from the first
//! rate-limited submit the shorter window the provider counts over (a "600/min"
//! counted as 100 per any 10 s); a second limit says the learning was wrong, and the
//! lane paces evenly from then on. See [`learn_window`].

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;

use crate::catalog::Provider;

/// The slowest pace a lane slows to (submits per minute).
const MIN_RPM: f64 = 1.0;
/// Without an accepted count to go by, a limited pace is cut by this factor.
const CUT: f64 = 0.7;
/// The share of the observed limit the lane settles at.
const MARGIN: f64 = 0.95;
/// How much the ceiling rises per accepted submit: 0.2 %, so the next limit is met
/// after about 25 to 35 submits (a rate-limited share near 3 %).
const CREEP: f64 = 0.002;
/// The share of a manifest's limit the lane paces at: at exactly the limit, timing
/// jitter between here and the provider (an intent's fsync, the network) puts one
/// submit too many in some window now and then, and each rate-limited answer stops
/// the whole lane for its Retry-After (a second or more) and cuts the pace. 1 % under
/// costs 0.4 s over 400 submits at 600/min.
const GIVEN_SHARE: f64 = 0.99;
/// Submits handed to the lane ahead of their turn: this many simulated seconds' worth
/// (at least `AHEAD_MIN`). Each one counts against the cap on jobs in flight while it
/// waits, so a deep queue would leave fewer renders running; half a second is enough,
/// as the dispatcher tops the queue up at every submit. At least `AHEAD_MIN`, so that a
/// fast clock (a rehearsal) does not leave the pace waiting for the dispatcher's turn.
const AHEAD_SECS: f64 = 0.5;
const AHEAD_MIN: f64 = 4.0;
/// Within a burst, sends are this many times closer than the pace's interval, not all
/// at once: a wrong guess about the provider's window then costs the few refused
/// while the first refusal is on its way back (about one on loopback, ten at 150 ms
/// of latency), not the whole burst.
const BURST: f64 = 5.0;
/// The slack on a burst window's quota: the oldest send of a window must be this
/// share of the window past before its slot is used again (the timing jitter between
/// here and the provider, as `GIVEN_SHARE` is for even pacing).
const WINDOW_SLACK: f64 = 0.01;
/// The most jitter added to a cooldown (simulated): enough to spread machines that met
/// a limit together over a few of their sends.
const JITTER_MAX: Duration = Duration::from_secs(2);
/// The windows (whole simulated seconds) a provider may count a per-minute limit over.
const WINDOWS_SECS: std::ops::RangeInclusive<u32> = 1..=60;

/// The limits a lane enforces.
#[derive(Clone, Debug, PartialEq)]
pub struct LaneLimits {
    /// The pace submits start at.
    pub submits_per_minute: u32,
    pub polls_per_minute: u32,
    pub max_in_flight: u32,
    /// The manifest gave `submits_per_minute`: keep to it (never probe above).
    pub rate_given: bool,
}

impl LaneLimits {
    /// Documented defaults. MiniMax allows 5 video RPM (free plan; 20 paid) and
    /// Segmind's free plan 5 RPM: lanes start there and probe upward. Runware
    /// documents no hard limit (its 429/503/504 are queue back-pressure): it starts
    /// at 120/min and probes upward. None documents a cap on tasks in flight, so
    /// the default cap is high enough never to be what bounds a night.
    pub fn default_for(p: Provider) -> LaneLimits {
        let (submits_per_minute, polls_per_minute, max_in_flight) = crate::provider::capabilities(p).documented_limits;
        LaneLimits { submits_per_minute, polls_per_minute, max_in_flight, rate_given: false }
    }
}

struct Gate {
    /// No request of this provider before this moment (DESIGN: after a limit every
    /// worker of the provider waits).
    cooldown_until: Instant,
    /// Rate-limited submits in a row (for the backoff when no Retry-After came): an
    /// answered poll says nothing of whether submits are still limited.
    submit_strikes: u32,
    /// Rate-limited polls in a row.
    poll_strikes: u32,
    /// The submit pace, per (simulated) minute.
    rpm: f64,
    /// The highest pace believed safe, once a limit was met (or the manifest's).
    ceiling: Option<f64>,
    /// The next moment a submit may go.
    next_slot: Instant,
    /// When the last submit actually went (after its intent): see [`Lane::before_send`].
    last_sent: Option<Instant>,
    /// Accepted submits in the last (simulated) minute.
    accepted: std::collections::VecDeque<Instant>,
    /// While a manifest's limit may be sent in bursts: the window it is counted over
    /// (the minute, until a rate limit says shorter). `None`: even pacing.
    burst: Option<Duration>,
    /// The moments sends were let go within the last (simulated) minute, and the slots
    /// taken by sends still waiting for them (a burst's windows count them; the ETA
    /// starts those renders then, paced evenly or not).
    sent: std::collections::VecDeque<Instant>,
    /// When the first submit was accepted: how long the lane has been sending.
    first_accepted: Option<Instant>,
    /// What the provider accepted per (simulated) minute when a submit last met a
    /// limit: what passes on average while the limit binds (see [`Lane::eta_pace_per_minute`]).
    capacity: Option<f64>,
}

impl Gate {
    fn strikes(&mut self, kind: Kind) -> &mut u32 {
        match kind {
            Kind::Submit => &mut self.submit_strikes,
            Kind::Poll => &mut self.poll_strikes,
        }
    }

    /// Forgets the accepted submits older than the (simulated) minute before `now`.
    fn trim_accepted(&mut self, now: Instant, minute: Duration) {
        while self.accepted.front().is_some_and(|t| now.saturating_duration_since(*t) > minute) {
            self.accepted.pop_front();
        }
    }
}

/// One waiter counted while it lives (however its wait ends: its future may be dropped).
struct Waiting<'a>(&'a AtomicU32);

impl<'a> Waiting<'a> {
    fn on(count: &'a AtomicU32) -> Waiting<'a> {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the lane's sends wait for (see [`Lane::send_waits`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SendWaits {
    pub next: f64,
    pub held: Vec<f64>,
    pub unslotted: usize,
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
    poll: DefaultDirectRateLimiter,
    gate: Mutex<Gate>,
    /// Submits handed to the lane and not yet through `before_submit`.
    queued: AtomicU32,
    /// Submits waiting in `before_send` (their intent written, not yet sent).
    waiting_send: AtomicU32,
    /// Real seconds per simulated second (1 outside rehearsals and tests).
    time_scale: f64,
}

fn per_minute(n: u32, time_scale: f64) -> Quota {
    // A rehearsal runs the night faster: limits scale with it. Burst 1, so that a
    // limit of N per minute never sends N at once.
    let period = Duration::from_secs_f64((60.0 / f64::from(n.max(1))) * time_scale).max(Duration::from_micros(100));
    Quota::with_period(period).expect("positive period").allow_burst(NonZeroU32::MIN)
}

/// A (simulated) minute in real time.
fn minute(time_scale: f64) -> Duration {
    Duration::from_secs_f64(60.0 * time_scale)
}

/// A per-minute limit's share of a shorter window (what a provider counting `limit`
/// per minute over `window` allows in it): rounded down, at least one.
fn quota(limit: u32, window: Duration, minute: Duration) -> usize {
    ((f64::from(limit) * window.as_secs_f64() / minute.as_secs_f64()).floor() as usize).max(1)
}

/// How many of the `accepted` (oldest first) are younger than `window` at `now`.
fn within(accepted: &std::collections::VecDeque<Instant>, now: Instant, window: Duration) -> usize {
    accepted.iter().rev().take_while(|t| now.saturating_duration_since(**t) < window).count()
}

/// Whether a rate-limited answer's Retry-After `ra` at `now` says the provider counts
/// over longer than `window`: counted over `window`, the oldest of the `accepted`
/// submits within it would free its slot when it leaves; the provider names a moment
/// well past that (a quarter later, and a simulated second). A shorter Retry-After
/// refutes nothing: it may be a provider's generic "try again soon".
fn outlasts(
    accepted: &std::collections::VecDeque<Instant>,
    now: Instant,
    window: Duration,
    ra: Duration,
    second: Duration,
) -> bool {
    let oldest = accepted.iter().find(|t| now.saturating_duration_since(**t) < window);
    let frees = oldest.map_or(Duration::ZERO, |t| (*t + window).saturating_duration_since(now));
    ra > frees.mul_f64(1.25) + second
}

/// The window a provider counts a per-minute `limit` over, learnt from a rate-limited
/// submit at `now` after the `accepted` ones (oldest first): the longest window, up
/// to `longest`, whose share of the limit the accepted submits had already reached.
/// Until a first limit, every accepted submit sits in one window (the provider counts
/// no longer one), so that window's count is its quota exactly where the window is
/// the provider's, and a longer one's quota is not reached. `None` when no window's
/// is: the limit given is not the provider's.
pub fn learn_window(
    accepted: &std::collections::VecDeque<Instant>,
    now: Instant,
    limit: u32,
    longest: Duration,
    minute: Duration,
) -> Option<Duration> {
    let second = minute / 60;
    WINDOWS_SECS
        .rev()
        .map(|s| second * s)
        .filter(|w| *w <= longest)
        .find(|w| within(accepted, now, *w) >= quota(limit, *w, minute))
}

impl Lane {
    pub fn new(provider: Provider, limits: LaneLimits, time_scale: f64) -> Lane {
        let now = Instant::now();
        let rpm = f64::from(limits.submits_per_minute.max(1)) * if limits.rate_given { GIVEN_SHARE } else { 1.0 };
        Lane {
            provider,
            poll: RateLimiter::direct(per_minute(limits.polls_per_minute, time_scale)),
            gate: Mutex::new(Gate {
                cooldown_until: now,
                submit_strikes: 0,
                poll_strikes: 0,
                rpm,
                ceiling: limits.rate_given.then_some(rpm),
                next_slot: now,
                last_sent: None,
                accepted: Default::default(),
                burst: limits.rate_given.then(|| minute(time_scale)),
                sent: Default::default(),
                first_accepted: None,
                capacity: None,
            }),
            limits,
            queued: AtomicU32::new(0),
            waiting_send: AtomicU32::new(0),
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

    /// Whether the dispatcher may hand this lane another submit: half a second's
    /// worth wait their turn, not the whole in-flight cap (each holds a slot of it).
    pub fn wants_submit(&self) -> bool {
        let ahead = (self.gate().rpm / 60.0 * AHEAD_SECS).ceil().max(AHEAD_MIN) as u32;
        self.queued.load(Ordering::Relaxed) < ahead
    }

    /// A submit handed to the lane (before its worker waits in `before_submit`).
    pub fn submit_queued(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// Waits until a submit may go: cooldown and the pace. Ends the `submit_queued` turn.
    pub async fn before_submit(&self) {
        loop {
            self.wait_cooldown().await;
            let slot = {
                let mut g = self.gate();
                let slot = g.next_slot.max(Instant::now());
                g.next_slot = slot + self.spacing(&g);
                slot
            };
            tokio::time::sleep_until(slot.into()).await;
            // A limit that struck meanwhile voids the turn: queue again behind the cooldown.
            if !self.cooling() {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                return;
            }
        }
    }

    /// Waits, just before a submit's request goes (its intent written), until it is at
    /// least the pace's interval after the previous one. Turns are handed out ahead
    /// (`before_submit`); a stall on the way (an intent's fsync, a busy machine) would
    /// otherwise let the late ones go together, and 10 s later a sliding window would
    /// count one too many. Sends never catch up on a stall: catching up at the limit's
    /// own interval left no room for the network's jitter, and a sliding window then
    /// counted one too many now and then (each such answer stops the lane for a
    /// second or more, where a stall costs its own few milliseconds once).
    ///
    /// While bursting, a send also waits for a slot in its window and in the minute:
    /// each may hold its quota of sends, the oldest freeing its slot a little
    /// (`WINDOW_SLACK`) after it leaves.
    pub async fn before_send(&self) {
        let _waiting = Waiting::on(&self.waiting_send);
        loop {
            self.wait_cooldown().await;
            let at = self.reserve_send();
            tokio::time::sleep_until(at.into()).await;
            // A limit that struck meanwhile voids the slot (in a burst, it was counted in a
            // window the limit may have just shown too long): again after the cooldown.
            if !self.cooling() {
                return;
            }
            let mut g = self.gate();
            if let Some(i) = g.sent.iter().rposition(|t| *t == at) {
                g.sent.remove(i);
            }
        }
    }

    /// The moment the next send may go, taken.
    fn reserve_send(&self) -> Instant {
        let mut g = self.gate();
        let at = self.next_slot(&g, Instant::now());
        let minute = self.minute();
        while g.sent.front().is_some_and(|t| at.saturating_duration_since(*t) > minute.mul_f64(1.0 + WINDOW_SLACK)) {
            g.sent.pop_front();
        }
        g.sent.push_back(at);
        g.last_sent = Some(at);
        at
    }

    /// The moment a send asking `now` could go.
    fn next_slot(&self, g: &Gate, now: Instant) -> Instant {
        self.slot(g.burst, self.spacing(g), &g.sent, g.last_sent, now)
    }

    /// The moment a send asking `now` could go, after `last` and, in a burst counted over
    /// `burst`, after the `sent` its windows hold.
    fn slot(
        &self,
        burst: Option<Duration>,
        spacing: Duration,
        sent: &std::collections::VecDeque<Instant>,
        last: Option<Instant>,
        now: Instant,
    ) -> Instant {
        let mut at = last.map_or(now, |last| (last + spacing).max(now));
        if let Some(window) = burst {
            let minute = self.minute();
            for w in [window, minute] {
                let q = quota(self.limits.submits_per_minute, w, minute);
                if sent.len() >= q {
                    at = at.max(sent[sent.len() - q] + w.mul_f64(1.0 + WINDOW_SLACK));
                }
            }
        }
        at
    }

    /// For the ETA, while bursting: real seconds from `now` until the last of `n` more
    /// sends may go, the lane's own slots replayed (each window's quota over the sends
    /// let go, after any cooldown); past a minute's quota, each quota more takes a
    /// minute. A pace alone put a night's 400 last sends, free to go in 4 s once the
    /// minute's first had left it, 20 s apart. None when paced evenly: the pace says it.
    pub fn burst_end_secs(&self, now: Instant, n: u64) -> Option<f64> {
        let g = self.gate();
        let window = g.burst?;
        let minute = self.minute();
        let per_minute = quota(self.limits.submits_per_minute, minute, minute);
        let (spacing, start) = (self.spacing(&g), now.max(g.cooldown_until));
        let mut sent = g.sent.clone();
        let (mut last, mut at) = (g.last_sent, start);
        let replayed = n.min(per_minute as u64);
        for _ in 0..replayed {
            at = self.slot(Some(window), spacing, &sent, last, start);
            sent.push_back(at);
            last = Some(at);
        }
        let rest = (n - replayed) as f64 / per_minute as f64 * minute.as_secs_f64() * (1.0 + WINDOW_SLACK);
        Some(at.saturating_duration_since(now).as_secs_f64() + rest)
    }

    /// Whether a submit asked for now would wait more than a (simulated) second for its
    /// slot in a burst's window: a result seen sooner frees a slot no submit can use
    /// yet, so polls need not hurry.
    pub fn window_bound(&self, now: Instant) -> bool {
        let g = self.gate();
        g.burst.is_some() && self.next_slot(&g, now) > now + Duration::from_secs_f64(self.time_scale)
    }

    /// For the ETA, in real seconds from `now`: the wait of a submit asked for now (its
    /// slot, and the cooldown), the waits of the sends already given a slot later than
    /// now (paced, or in a burst's window), and how many sends wait with no slot yet (behind a
    /// cooldown: they go at the pace after it, as the submits not yet handed out).
    pub fn send_waits(&self, now: Instant) -> SendWaits {
        let g = self.gate();
        let next = self.next_slot(&g, now).max(g.cooldown_until).saturating_duration_since(now).as_secs_f64();
        let held: Vec<f64> = g.sent.iter().filter(|t| **t > now).map(|t| (*t - now).as_secs_f64()).collect();
        let unslotted = (self.waiting_send.load(Ordering::Relaxed) as usize).saturating_sub(held.len());
        SendWaits { next, held, unslotted }
    }

    /// The interval between two sends: the pace's, or `BURST` times closer in a burst.
    fn spacing(&self, g: &Gate) -> Duration {
        let gap = Duration::from_secs_f64(60.0 / g.rpm.max(MIN_RPM) * self.time_scale);
        if g.burst.is_some() { gap.div_f64(BURST) } else { gap }
    }

    /// Waits until a poll may go.
    pub async fn before_poll(&self) {
        self.wait_cooldown().await;
        self.poll.until_ready().await;
    }

    fn minute(&self) -> Duration {
        minute(self.time_scale)
    }

    /// A rate-limited answer: everyone waits; a limited submit also cuts the pace to
    /// just under the rate the provider accepted over the last minute. Without
    /// Retry-After, a provider with per-minute windows is waited out to the window's
    /// next free slot. One whose 429 is queue back-pressure (Runware) backs off first;
    /// a second limit in a row says the backoff was not enough, so the lane then waits
    /// as for a window (a per-minute limit met early in a night would otherwise cost
    /// a limited answer at each doubling of the backoff until its minute is over).
    pub fn rate_limited(&self, kind: Kind, retry_after: Option<Duration>) {
        self.limited(kind, retry_after, true)
    }

    /// The provider's queue is full (Runware 503/504): as a rate limit, except that no
    /// per-minute window is assumed (the wait is the growing backoff alone).
    pub fn back_pressure(&self, kind: Kind) {
        self.limited(kind, None, false)
    }

    /// `rate_limit`: a 429 or 1002 (which may mean a window), not back-pressure.
    fn limited(&self, kind: Kind, retry_after: Option<Duration>, rate_limit: bool) {
        let mut g = self.gate();
        // In a burst, the refusals of sends let go before the first refusal came back
        // are of the one wall the first has answered for.
        if kind == Kind::Submit && g.burst.is_some() && g.cooldown_until > Instant::now() {
            return;
        }
        let strikes = *g.strikes(kind);
        let windowed = rate_limit && (crate::provider::capabilities(self.provider).windowed_rate_limit || strikes > 0);
        let strikes = strikes + 1;
        *g.strikes(kind) = strikes;
        let now = Instant::now();
        let minute = self.minute();
        g.trim_accepted(now, minute);
        // A limited submit in a burst: the first says which window the provider counts
        // the manifest's limit over, and the lane keeps bursting within it (its slots
        // say when the next send may go, the pace is not cut); a second says the
        // window learnt, or the limit given, is not the provider's (and a full queue,
        // that the burst is too much): even pacing from then on, cut as below.
        // A Retry-After later than the window learnt would free a slot refutes it: the
        // provider counts fewer than the limit given, over longer.
        let second = minute / 60;
        let bursting = kind == Kind::Submit && g.burst.is_some();
        let learnt = match (kind, g.burst) {
            (Kind::Submit, Some(window)) => {
                let learnt = (rate_limit && window == minute)
                    .then(|| learn_window(&g.accepted, now, self.limits.submits_per_minute, window, minute))
                    .flatten()
                    .filter(|w| retry_after.is_none_or(|ra| !outlasts(&g.accepted, now, *w, ra, second)));
                g.burst = learnt;
                tracing::debug!(provider = %self.provider, ?learnt, ?retry_after, "a burst met a limit");
                learnt.is_some()
            }
            _ => false,
        };
        let backoff = Duration::from_secs_f64((2f64.powi(strikes.min(6) as i32)).min(60.0) * self.time_scale);
        // Without Retry-After (MiniMax says nothing), a per-minute limit frees a
        // slot when the oldest submit of the last minute leaves its window.
        // A window just learnt has its own slots for that.
        let window_frees = match (kind, g.accepted.front()) {
            (Kind::Submit, Some(oldest)) if windowed && !learnt => (*oldest + minute).saturating_duration_since(now),
            _ => Duration::ZERO,
        };
        let wait = retry_after.map_or(backoff.max(window_frees), |ra| ra.max(Duration::from_millis(1)));
        // Jitter spreads the return of machines sharing the account so they do not hit
        // the limit together (this one's workers go back at its pace, one by one): a
        // fifth of the wait, at most `JITTER_MAX`. A fifth of a minute's window left a
        // lane idle for up to 12 s at each limit.
        let jitter = wait.mul_f64(rand::rng().random_range(0.0..0.2)).min(JITTER_MAX.mul_f64(self.time_scale));
        let until = now + wait + jitter;
        if until > g.cooldown_until {
            g.cooldown_until = until;
        }
        // Turns handed out before the limit struck start again after the cooldown.
        g.next_slot = g.next_slot.max(g.cooldown_until);
        if kind == Kind::Poll || learnt {
            return;
        }
        // The rate the provider accepted. A burst's limit no window of the limit given
        // explains: what it accepted over the window its Retry-After names (from the
        // oldest submit it may still count to the slot it frees), else over the minute
        // (the longest a per-minute limit is counted over; the lane may be younger).
        // Otherwise over the last minute, or the time since the first accepted submit
        // when the lane is younger (else a limit met early would read as a tiny rate).
        let seen = match (g.accepted.front(), g.first_accepted) {
            (Some(oldest), _) if bursting && rate_limit => {
                let over = retry_after.map_or(minute, |ra| (now + ra).saturating_duration_since(*oldest));
                let over = over.clamp(second, minute);
                within(&g.accepted, now, over) as f64 * minute.as_secs_f64() / over.as_secs_f64()
            }
            (Some(_), Some(first)) if g.accepted.len() >= 2 => {
                let span = now.duration_since(first).max(minute / 10).min(minute);
                g.accepted.len() as f64 * minute.as_secs_f64() / span.as_secs_f64()
            }
            _ => 0.0,
        };
        if seen > 0.0 {
            g.capacity = Some(seen);
        }
        // Multiplicative decrease: under the pace that met the limit, and under what passed.
        let ceiling = if seen > 0.0 { seen.min(g.rpm) * MARGIN } else { g.rpm * CUT };
        // Only lower: a burst of limits must not raise the ceiling again.
        let ceiling = g.ceiling.map_or(ceiling, |c| c.min(ceiling)).max(MIN_RPM);
        g.ceiling = Some(ceiling);
        g.rpm = g.rpm.min(ceiling);
        tracing::debug!(provider = %self.provider, seen, ceiling, rpm = g.rpm, ?wait, "rate limited");
    }

    /// An accepted submit: one more request per minute, up to the ceiling, which
    /// creeps up by `CREEP` (never past a limit the manifest gave).
    pub fn submit_accepted(&self) {
        let mut g = self.gate();
        g.submit_strikes = 0;
        let now = Instant::now();
        g.accepted.push_back(now);
        g.first_accepted.get_or_insert(now);
        let minute = self.minute();
        g.trim_accepted(now, minute);
        let given = self.limits.rate_given.then(|| f64::from(self.limits.submits_per_minute.max(1)) * GIVEN_SHARE);
        if let Some(c) = g.ceiling {
            let crept = c * (1.0 + CREEP);
            g.ceiling = Some(given.map_or(crept, |m| crept.min(m)));
        }
        let top = g.ceiling.unwrap_or(f64::INFINITY);
        g.rpm = (g.rpm + 1.0).min(top);
    }

    /// An answered poll ends the polls' run of rate limits.
    pub fn poll_answered(&self) {
        self.gate().poll_strikes = 0;
    }

    /// Whether the lane is cooling down now.
    pub fn cooling(&self) -> bool {
        self.gate().cooldown_until > Instant::now()
    }

    /// The submit pace now, per simulated minute.
    pub fn pace_per_minute(&self) -> f64 {
        self.gate().rpm
    }

    /// The pace the ETA counts on, per simulated minute: once a limit was met, no more
    /// than the provider accepted then, or over the last minute if that is more (the
    /// limit rose, or the limit met was a passing one). The pace itself probes above
    /// the limit (it creeps up, meets it, is cut, waits the window out); what passes on
    /// average is what the provider accepts in its window, and a night told 600/min
    /// where 300 pass was shown ending in half its time. The last minute alone is not
    /// enough: after a cooldown it holds only the sends since, and a night was shown
    /// ending in twice its time.
    pub fn eta_pace_per_minute(&self) -> f64 {
        let mut g = self.gate();
        let (now, minute) = (Instant::now(), self.minute());
        g.trim_accepted(now, minute);
        match g.capacity {
            Some(c) => g.rpm.min(c.max(g.accepted.len() as f64)).max(MIN_RPM),
            None => g.rpm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Provider::{Minimax, Runware};

    fn limits(rpm: u32, given: bool) -> LaneLimits {
        LaneLimits { submits_per_minute: rpm, polls_per_minute: 600, max_in_flight: 9, rate_given: given }
    }

    #[tokio::test]
    async fn retry_after_makes_every_worker_wait_and_success_recovers_the_pace() {
        let l = Lane::new(Minimax, limits(600, true), 1.0);
        l.rate_limited(Kind::Submit, Some(Duration::from_millis(150)));
        assert!(l.cooling());
        let t = Instant::now();
        l.before_poll().await;
        assert!(t.elapsed() >= Duration::from_millis(150), "{:?}", t.elapsed());
        assert!(l.pace_per_minute() < 600.0 * CUT + 1e-9, "cut: {}", l.pace_per_minute());
        for _ in 0..2000 {
            l.submit_accepted();
        }
        // The ceiling that met the limit creeps back up, never past the manifest's 600
        // (paced 1 % under it).
        assert!((l.pace_per_minute() - 600.0 * GIVEN_SHARE).abs() < 1e-9, "{}", l.pace_per_minute());
    }

    #[tokio::test]
    async fn submits_keep_the_configured_spacing() {
        // Paced evenly (no limit given: a burst is the manifest's to allow).
        let l = Lane::new(Minimax, limits(600, false), 1.0); // one per 100 ms
        let t = Instant::now();
        for _ in 0..4 {
            l.submit_queued();
            l.before_submit().await;
        }
        let e = t.elapsed();
        assert!(e >= Duration::from_millis(290), "4 submits at 10/s take ≥ 0.3 s, took {e:?}");
        assert_eq!(l.queued.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn without_a_manifest_limit_the_pace_starts_at_the_documented_one_and_probes_upward() {
        let l = Lane::new(Minimax, LaneLimits::default_for(Minimax), 1.0);
        assert_eq!(l.pace_per_minute(), 5.0, "MiniMax documents 5/min");
        for _ in 0..25 {
            l.submit_accepted();
        }
        assert_eq!(l.pace_per_minute(), 30.0, "one more per minute for each accepted submit");
        // With a limit in the manifest, never above it.
        let given = Lane::new(Minimax, limits(20, true), 1.0);
        for _ in 0..500 {
            given.submit_accepted();
        }
        assert!((given.pace_per_minute() - 20.0 * GIVEN_SHARE).abs() < 1e-9, "{}", given.pace_per_minute());
    }

    #[test]
    fn a_limited_submit_cuts_the_pace_just_under_what_met_the_limit_then_creeps() {
        let l = Lane::new(Runware, limits(5, false), 1.0);
        for _ in 0..30 {
            l.submit_accepted();
        }
        // The pace had reached 35/min; 30 were accepted within moments (a fast
        // lane): the cut goes just under the pace that met the limit.
        l.rate_limited(Kind::Submit, None);
        assert!((l.pace_per_minute() - 33.25).abs() < 1e-9, "{}", l.pace_per_minute());
        // 0.2 % more per accepted submit: back over the pace that met the limit
        // after about 26 submits, so limited answers stay near 3 %.
        for _ in 0..29 {
            l.submit_accepted();
        }
        let p = l.pace_per_minute();
        assert!((35.0..35.3).contains(&p), "{p}");
    }

    #[tokio::test]
    async fn sends_late_from_a_stall_keep_the_pace_and_never_catch_up_at_the_limit() {
        let l = Lane::new(Runware, limits(600, false), 1.0); // one per 100 ms, paced evenly
        let gap = Duration::from_secs_f64(60.0 / 600.0); // the pace's interval
        for _ in 0..10 {
            l.submit_queued();
            l.before_submit().await;
        }
        // A stall: the ten turns are past; their sends still keep the pace's spacing.
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The moments the sends were let go (the lane's own schedule: a wake-up late
        // from a busy test machine would blur the wall clock).
        let mut sent = Vec::new();
        for _ in 0..10 {
            l.before_send().await;
            sent.push(l.gate().last_sent.expect("a send went"));
        }
        // Catching up at the limit's own interval (100 ms) would leave 1 ms of the
        // pace's margin for the network's jitter.
        for w in sent.windows(2) {
            assert!(w[1] - w[0] >= gap - Duration::from_micros(10), "{:?} apart, pace {gap:?}", w[1] - w[0]);
        }
    }

    #[test]
    fn a_limited_poll_cools_down_but_leaves_the_pace() {
        let l = Lane::new(Minimax, limits(60, true), 1.0);
        l.rate_limited(Kind::Poll, Some(Duration::from_millis(50)));
        assert!(l.cooling());
        assert!((l.pace_per_minute() - 60.0 * GIVEN_SHARE).abs() < 1e-9);
    }

    /// Polls answered between two limited submits (Runware's polls are not limited
    /// with them) left the second counted as a first: a backoff again, not the window.
    #[test]
    fn an_answered_poll_leaves_the_submits_run_of_limits() {
        let l = busy_lane(Runware);
        let t = Instant::now();
        l.rate_limited(Kind::Submit, None);
        l.poll_answered();
        l.rate_limited(Kind::Submit, None);
        assert!(l.gate().cooldown_until.duration_since(t) > Duration::from_secs(50), "waited as for a window");
    }

    #[test]
    fn only_a_few_seconds_of_submits_wait_in_the_lane() {
        let l = Lane::new(Runware, limits(600, true), 1.0);
        let mut n = 0;
        while l.wants_submit() {
            l.submit_queued();
            n += 1;
        }
        assert_eq!(n, 5, "0.5 s at 10/s");
        // A slow lane still keeps a few ready.
        let slow = Lane::new(Minimax, limits(5, true), 1.0);
        let mut n = 0;
        while slow.wants_submit() {
            slow.submit_queued();
            n += 1;
        }
        assert_eq!(n, AHEAD_MIN as u32);
    }

    #[test]
    fn a_full_queue_slows_the_lane_like_a_limit_without_waiting_for_a_minute_window() {
        let l = busy_lane(Runware);
        let t = Instant::now();
        l.back_pressure(Kind::Submit);
        assert!(l.cooling());
        assert!(l.pace_per_minute() < 600.0 * GIVEN_SHARE, "the pace is cut: {}", l.pace_per_minute());
        // The first backoff (2 s, plus at most 20 % jitter), not the minute it would take
        // the oldest of the 50 accepted submits to leave a one-minute window.
        let until = l.gate().cooldown_until.duration_since(t);
        assert!(until <= Duration::from_secs_f64(2.4 + 0.01), "{until:?}");
    }

    /// A lane of `p` paced evenly at 600/min that has had 50 submits accepted just now
    /// (the oldest of them leaves a one-minute window in about a minute).
    fn busy_lane(p: Provider) -> Lane {
        let l = Lane::new(p, limits(600, false), 1.0);
        for _ in 0..50 {
            l.submit_accepted();
        }
        l
    }

    #[test]
    fn a_runware_429_without_retry_after_backs_off_and_a_second_in_a_row_waits_for_a_window() {
        let l = busy_lane(Runware);
        let t = Instant::now();
        // Runware documents its 429 as queue back-pressure: the first backs off (2 s,
        // plus at most 20 % jitter), not the minute the oldest accepted submit needs
        // to leave a one-minute window.
        l.rate_limited(Kind::Submit, None);
        let until = l.gate().cooldown_until.duration_since(t);
        assert!(until <= Duration::from_secs_f64(2.4 + 0.01), "{until:?}");
        // The backoff did not clear it: the lane waits as for a window.
        l.rate_limited(Kind::Submit, None);
        assert!(l.gate().cooldown_until.duration_since(t) > Duration::from_secs(50));
    }

    #[test]
    fn a_minimax_rate_limit_without_retry_after_waits_for_its_minute_window() {
        let l = busy_lane(Minimax);
        let t = Instant::now();
        l.rate_limited(Kind::Submit, None);
        assert!(l.gate().cooldown_until.duration_since(t) > Duration::from_secs(50));
    }

    /// `n` moments `every` apart from `start`.
    fn moments(start: Instant, n: usize, every: Duration) -> std::collections::VecDeque<Instant> {
        (0..n).map(|i| start + every * i as u32).collect()
    }

    #[test]
    fn a_first_limit_after_a_burst_names_the_window_the_provider_counts_over() {
        let minute = Duration::from_secs(60);
        let t0 = Instant::now();
        // 600/min counted as 100 per any 10 s: 60 sent at once, 40 more as renders
        // finished, the 101st refused 4.5 s in. Every window up to 10 s had its share
        // (10 s: 100); 11 s would allow 110.
        let mut accepted = moments(t0, 60, Duration::ZERO);
        accepted.extend(moments(t0 + Duration::from_millis(2500), 40, Duration::from_millis(50)));
        let at = t0 + Duration::from_millis(4500);
        assert_eq!(learn_window(&accepted, at, 600, minute, minute), Some(Duration::from_secs(10)));
        // Counted over any 20 s (200), the 201st is refused: 20 s.
        let burst = moments(t0, 200, Duration::from_millis(20));
        assert_eq!(
            learn_window(&burst, t0 + Duration::from_secs(4), 600, minute, minute),
            Some(Duration::from_secs(20))
        );
        // Never longer than the window already kept to.
        assert_eq!(
            learn_window(&burst, t0 + Duration::from_secs(4), 600, Duration::from_secs(15), minute),
            Some(Duration::from_secs(15))
        );
        // Evenly under the limit (one a second at 600/min): no window's share reached,
        // the limit given is not the provider's.
        let slow = moments(t0, 30, Duration::from_secs(1));
        assert_eq!(learn_window(&slow, t0 + Duration::from_secs(30), 600, minute, minute), None);
    }

    #[test]
    fn a_given_limit_goes_in_bursts_of_its_minute_never_more() {
        // 60/min at a hundredth of real time: a minute is 0.6 s, the pace's interval 10 ms.
        let l = Lane::new(Runware, limits(60, true), 0.01);
        let sent: Vec<Instant> = (0..61).map(|_| l.reserve_send()).collect();
        let gap = Duration::from_secs_f64(0.01 * 60.0 / (60.0 * GIVEN_SHARE));
        // The minute's 60 go at five times the pace ...
        for w in sent[..60].windows(2) {
            assert!(w[1] - w[0] < gap / 4, "{:?} apart", w[1] - w[0]);
        }
        // ... and the 61st when the first has left the minute (with its slack).
        assert!(sent[60] - sent[0] >= Duration::from_millis(600), "{:?}", sent[60] - sent[0]);
        assert!(sent[60] - sent[0] <= Duration::from_millis(620), "{:?}", sent[60] - sent[0]);
    }

    #[tokio::test]
    async fn a_limit_in_a_burst_keeps_the_pace_and_bursts_in_the_window_learnt_and_a_second_ends_the_burst() {
        let l = Lane::new(Runware, limits(600, true), 1.0);
        assert!(!l.window_bound(Instant::now()), "a fresh lane sends at once");
        let sent: Vec<Instant> = (0..100).map(|_| l.reserve_send()).collect();
        for _ in 0..100 {
            l.submit_accepted();
        }
        l.rate_limited(Kind::Submit, Some(Duration::from_millis(20)));
        assert_eq!(l.gate().burst, Some(Duration::from_secs(10)), "100 accepted at once: 100 per 10 s");
        assert!((l.pace_per_minute() - 600.0 * GIVEN_SHARE).abs() < 1e-9, "not cut: {}", l.pace_per_minute());
        // The wall's other refusals (sent before the first came back) change nothing.
        l.rate_limited(Kind::Submit, Some(Duration::from_millis(20)));
        assert_eq!(l.gate().burst, Some(Duration::from_secs(10)));
        // The next send waits for the first of the 100 to leave its 10 s: polls need not
        // hurry to free a slot for it.
        assert!(l.window_bound(Instant::now()));
        let next = l.reserve_send();
        assert!(next - sent[0] >= Duration::from_secs_f64(10.0 * (1.0 + WINDOW_SLACK)), "{:?}", next - sent[0]);
        assert!(next - sent[0] < Duration::from_secs(11), "{:?}", next - sent[0]);
        // Once the cooldown is over, a second limit: the window was not the provider's.
        tokio::time::sleep(Duration::from_millis(30)).await;
        l.rate_limited(Kind::Submit, Some(Duration::from_millis(20)));
        assert_eq!(l.gate().burst, None, "paced evenly from now on");
        assert!(l.pace_per_minute() < 600.0 * GIVEN_SHARE, "and the pace is cut: {}", l.pace_per_minute());
    }

    /// After a cooldown the sends waiting took their paced slots, 31 s of them at
    /// 285/min: the ETA counted them once as held and again as sends left, and said
    /// 112 s for 93.
    #[test]
    fn the_sends_waiting_for_their_paced_slots_are_held_and_the_next_slot_is_after_them() {
        let l = Lane::new(Runware, limits(600, false), 1.0); // one per 100 ms
        let now = Instant::now();
        for _ in 0..10 {
            l.reserve_send();
        }
        let waits = l.send_waits(now);
        assert!(waits.held.len() >= 9, "{:?}", waits.held);
        assert!((waits.next - 1.0).abs() < 0.01, "{}", waits.next);
        assert_eq!(waits.unslotted, 0);
    }

    /// A night's 1,000 told 600/min: the minute's 600 went 20 s ago. The 400 left go
    /// once the first of them has left the minute (41 s from now), in 8 s of a burst,
    /// not 40 s of the pace.
    #[test]
    fn the_sends_left_of_a_burst_go_when_its_window_frees_them_at_the_bursts_speed() {
        let l = Lane::new(Runware, limits(600, true), 1.0);
        let now = Instant::now();
        {
            let mut g = l.gate();
            g.sent = moments(now - Duration::from_secs(20), 600, Duration::from_millis(10));
            g.last_sent = g.sent.back().copied();
        }
        let first = 60.0 * (1.0 + WINDOW_SLACK) - 20.0; // the slot of the first sent
        let burst = 60.0 / (600.0 * GIVEN_SHARE) / BURST;
        let end = l.burst_end_secs(now, 400).expect("bursting");
        assert!((end - (first + 399.0 * burst)).abs() < 0.01, "{end}");
        // Past the minute's 600, each 600 more take a minute.
        let end = l.burst_end_secs(now, 1000).expect("bursting");
        let more = 400.0 / 600.0 * 60.0 * (1.0 + WINDOW_SLACK);
        assert!((end - (first + 599.0 * burst + more)).abs() < 0.01, "{end}");
        // Paced evenly: the pace says it.
        assert_eq!(Lane::new(Runware, limits(600, false), 1.0).burst_end_secs(now, 400), None);
    }

    /// Told 600/min where the provider counts 300 over the minute: 300 accepted at once
    /// fill a 30-s window of the limit given just as well, and the first limit cannot
    /// tell them apart, but its Retry-After can (the minute's first slot frees in a minute,
    /// where a 30-s window would free one in 30).
    #[test]
    fn a_retry_after_past_the_window_learnt_says_the_limit_given_is_not_the_providers() {
        let l = Lane::new(Runware, limits(600, true), 1.0);
        for _ in 0..300 {
            l.reserve_send();
            l.submit_accepted();
        }
        l.rate_limited(Kind::Submit, Some(Duration::from_secs(60)));
        assert_eq!(l.gate().burst, None, "paced evenly");
        assert!((l.pace_per_minute() - 300.0 * MARGIN).abs() < 1e-6, "under the 300 passed: {}", l.pace_per_minute());
        assert!((l.eta_pace_per_minute() - 300.0 * MARGIN).abs() < 1e-6, "{}", l.eta_pace_per_minute());
        // A Retry-After as the 30-s window says: the window is learnt.
        let l = Lane::new(Runware, limits(600, true), 1.0);
        for _ in 0..300 {
            l.reserve_send();
            l.submit_accepted();
        }
        l.rate_limited(Kind::Submit, Some(Duration::from_secs(30)));
        assert_eq!(l.gate().burst, Some(Duration::from_secs(30)));
    }

    /// After a cooldown the last minute holds only the sends since: a night paced at
    /// the provider's 300/min was shown ending in twice its time.
    #[tokio::test]
    async fn the_eta_counts_on_what_the_provider_accepted_at_its_limit_not_on_a_minute_part_filled() {
        // At a hundredth of real time: a minute is 0.6 s.
        let l = Lane::new(Runware, limits(600, true), 0.01);
        for _ in 0..300 {
            l.reserve_send();
            l.submit_accepted();
        }
        l.rate_limited(Kind::Submit, Some(Duration::from_millis(600)));
        tokio::time::sleep(Duration::from_millis(650)).await;
        // Nothing accepted in the last minute (the cooldown): still the pace, under 300.
        assert!((l.eta_pace_per_minute() - 300.0 * MARGIN).abs() < 1e-6, "{}", l.eta_pace_per_minute());
    }

    /// A lane older than the minute whose last minute holds few sends (it waited out a
    /// cooldown) met the limit with those few: that is the rate the provider allows,
    /// not a young lane's few scaled up to a minute.
    #[tokio::test]
    async fn a_limit_after_a_quiet_minute_reads_the_minute_not_a_young_lanes_burst() {
        let l = Lane::new(Runware, limits(600, false), 0.01);
        for _ in 0..50 {
            l.submit_accepted();
        }
        tokio::time::sleep(Duration::from_millis(650)).await;
        for _ in 0..30 {
            l.submit_accepted();
        }
        l.rate_limited(Kind::Submit, None);
        assert!((l.pace_per_minute() - 30.0 * MARGIN).abs() < 1e-6, "{}", l.pace_per_minute());
    }

    #[test]
    fn a_full_queue_in_a_burst_ends_the_burst() {
        let l = Lane::new(Runware, limits(600, true), 1.0);
        l.back_pressure(Kind::Submit);
        assert_eq!(l.gate().burst, None);
    }
}
