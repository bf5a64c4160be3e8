//! The poll schedule: when each task in flight is next worth a poll, which tasks one
//! poll request carries, and the render-time distribution learnt per model,
//! resolution and duration. Pure: no clock (every call is given `now`), no I/O.
//!
//! Three rules:
//! - **Age-proportional polls.** A task is polled first early (1 simulated second, as
//!   the official SDKs do, or just before the quickest renders learnt so far), then
//!   every `AGE_FRACTION` of its age. A render that ends between two polls is seen at
//!   most `AGE_FRACTION` of its own render time late, whatever the render time.
//! - **Unbiased learning.** A render ended between the last `pending` answer (its
//!   request's send time: pending then) and the first `done` answer; the midpoint of
//!   that interval is the sample. The interval is at most `AGE_FRACTION` of the age
//!   wide, so a late poll cannot make renders look longer than they are. A task whose
//!   first answer is already `done` gives only an upper bound: it pulls the first
//!   poll earlier, it never enters the distribution.
//! - **Sweeps where one request polls many tasks (Runware).** A sweep takes every task
//!   due, plus the tasks due next to fill the last request, so a poll cycle costs
//!   `ceil(due / batch)` requests. While a finished task holds nothing up (the lane
//!   has free slots and more work to send) sweeps are pooled: at most one per
//!   `LAZY_SWEEP` of the median render. When the lane is full with work waiting, or
//!   nothing is left to send (the end of the night), a finished task holds a slot or
//!   the night's end: then, while some task is past the quickest renders learnt (so
//!   may have ended), a sweep goes every `TIGHT_SWEEP` of the quick renders, at least
//!   every `PRESSURE_SWEEP` (one simulated second): one request sees all 60 tasks of
//!   a full lane, so a finished render frees its slot within about a second, not a
//!   tenth of its age (4.5 to 9 s for renders of 45 to 90 s). Before any render could
//!   have ended the per-task rule stays; with nothing learnt yet (the first wave), a
//!   full lane is swept every second, or every `FULL_AGE_FRACTION` of the age when longer.
//!   Where a request polls one task (MiniMax, Segmind), the due tasks go in order of
//!   the chance that their render has ended since their last pending answer.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::catalog::Resolution;

/// What renders are alike: model id, resolution, clip duration.
pub type RenderKey = (&'static str, Resolution, u32);

/// Seen at most this fraction of a task's age after its render ended.
pub const AGE_FRACTION: f64 = 0.1;
/// First poll of a task when nothing is learnt yet (simulated seconds).
const FIRST_POLL: f64 = 1.0;
/// Shortest gap between two polls of one task (simulated seconds).
const MIN_GAP: f64 = 0.5;
/// Longest gap between two polls of one task (simulated seconds).
const MAX_GAP: f64 = 30.0;
/// The first poll waits this fraction of the quickest renders learnt (the 5th percentile).
const FIRST_OF_QUICKEST: f64 = 0.9;
/// Shortest gap between two sweeps of a batched provider (simulated seconds).
const MIN_SWEEP: f64 = 0.25;
/// Under pressure, sweeps are at most this fraction of the quick renders (10th percentile) apart.
const TIGHT_SWEEP: f64 = 0.05;
/// Under pressure, sweeps are at most this many simulated seconds apart while a task may have ended
/// (one request polls a full lane: cheap next to a slot held idle).
const PRESSURE_SWEEP: f64 = 1.0;
/// A full lane with nothing learnt sweeps at least this fraction of its tasks' age apart.
const FULL_AGE_FRACTION: f64 = 0.02;
/// Without pressure, sweeps are at least this fraction of the median render apart.
const LAZY_SWEEP: f64 = 0.75;
/// Samples kept per render key (the most recent: the provider's queue changes over a night).
const SAMPLES: usize = 512;

/// Learnt render times of one kind of render (real seconds).
#[derive(Clone, Debug, Default)]
pub struct Samples {
    recent: VecDeque<f64>,
    sorted: Vec<f64>,
    /// The smallest upper bound of a render seen done at its first poll.
    first_done: Option<f64>,
    /// Renders learnt in all (`sorted` keeps the most recent `SAMPLES`).
    learnt: u64,
}

impl Samples {
    fn push(&mut self, secs: f64) {
        if self.recent.len() == SAMPLES
            && let Some(old) = self.recent.pop_front()
            && let Ok(i) = self.sorted.binary_search_by(|x| x.total_cmp(&old))
        {
            self.sorted.remove(i);
        }
        self.recent.push_back(secs);
        self.learnt += 1;
        let i = self.sorted.partition_point(|x| *x < secs);
        self.sorted.insert(i, secs);
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The renders kept, shortest first.
    pub fn sorted(&self) -> &[f64] {
        &self.sorted
    }

    /// The share of the renders learnt that are kept.
    pub fn kept_share(&self) -> f64 {
        self.sorted.len() as f64 / self.learnt.max(1) as f64
    }

    /// The q-quantile (0..=1) of the samples.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.sorted.is_empty() {
            return None;
        }
        let i = ((self.sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        Some(self.sorted[i])
    }

    pub fn mean(&self) -> Option<f64> {
        (!self.sorted.is_empty()).then(|| self.sorted.iter().sum::<f64>() / self.sorted.len() as f64)
    }

    /// The share of renders not longer than `t` (smoothed: never 0 or 1 on few samples).
    fn cdf(&self, t: f64) -> f64 {
        let n = self.sorted.len() as f64;
        (self.sorted.partition_point(|x| *x <= t) as f64 + 0.5) / (n + 1.0)
    }

    /// The chance that a render still going at `from` has ended by `to`.
    pub fn ended_between(&self, from: f64, to: f64) -> f64 {
        let (a, b) = (self.cdf(from), self.cdf(to));
        ((b - a) / (1.0 - a).max(1e-9)).clamp(0.0, 1.0)
    }
}

/// Render times learnt in this run, per render key.
#[derive(Clone, Debug, Default)]
pub struct RenderTimes {
    by_key: HashMap<RenderKey, Samples>,
}

impl RenderTimes {
    /// A render that was still going `pending_age` after acceptance and was done by
    /// `done_age`; `pending_age` None: done at its first poll (an upper bound only).
    pub fn observe(&mut self, key: RenderKey, pending_age: Option<Duration>, done_age: Duration) {
        let s = self.by_key.entry(key).or_default();
        let hi = done_age.as_secs_f64();
        match pending_age {
            Some(lo) => s.push((lo.as_secs_f64() + hi) / 2.0),
            None => s.first_done = Some(s.first_done.map_or(hi, |f| f.min(hi))),
        }
    }

    pub fn get(&self, key: &RenderKey) -> Option<&Samples> {
        self.by_key.get(key).filter(|s| !s.is_empty())
    }

    /// The mean render learnt for this key, else for the same model at any size.
    pub fn mean(&self, key: &RenderKey) -> Option<Duration> {
        let m = self.get(key).and_then(Samples::mean).or_else(|| {
            let (n, sum) = self
                .by_key
                .iter()
                .filter(|(k, _)| k.0 == key.0)
                .flat_map(|(_, s)| s.sorted.iter())
                .fold((0usize, 0.0), |(n, sum), x| (n + 1, sum + x));
            (n > 0).then(|| sum / n as f64)
        })?;
        Some(Duration::from_secs_f64(m))
    }
}

/// One task being polled.
#[derive(Clone, Debug)]
struct Task {
    key: RenderKey,
    accepted: Instant,
    /// Accepted in this run: its age is its render time so far.
    fresh: bool,
    /// The send time of the poll in the air, if any.
    sent: Option<Instant>,
    /// The send time of the last poll answered pending.
    pending: Option<Instant>,
    due: Instant,
}

/// What the dispatcher tells about a provider's lane when asking for a poll batch.
#[derive(Clone, Copy, Debug)]
pub struct LaneView {
    /// Tasks one poll request carries.
    pub batch: usize,
    /// A finished task would hold something up: the lane is full with work waiting,
    /// or nothing is left to send (every result now shortens the night).
    pub pressure: bool,
    /// The lane is full with work waiting (a finished task holds a slot).
    pub full: bool,
}

/// Simulated seconds a task may stay due, unpolled, before it goes ahead of likelier ones.
const OVERDUE_SECS: f64 = 30.0;

/// The poll schedule of a run.
#[derive(Debug)]
pub struct Schedule<Id = usize> {
    time_scale: f64,
    tasks: BTreeMap<Id, Task>,
    pub renders: RenderTimes,
    /// Per provider (its lane index), the last sweep.
    last_sweep: HashMap<u8, Instant>,
    /// Per provider, when a sweep under pressure is next worth considering (see [`Schedule::next_wake`]).
    wake: HashMap<u8, Instant>,
}

/// `Id` names a task: the dispatcher's `JobId` (plain numbers in the tests).
impl<Id: Copy + Ord> Schedule<Id> {
    pub fn new(time_scale: f64) -> Schedule<Id> {
        Schedule {
            time_scale,
            tasks: BTreeMap::new(),
            renders: RenderTimes::default(),
            last_sweep: HashMap::new(),
            wake: HashMap::new(),
        }
    }

    fn sim(&self, secs: f64) -> Duration {
        Duration::from_secs_f64((secs * self.time_scale).max(0.0))
    }

    /// How long after acceptance the first poll of a task of this kind goes.
    pub fn first_poll(&self, key: &RenderKey) -> Duration {
        let s = self.renders.by_key.get(key);
        let learnt = s.and_then(|s| s.quantile(0.05)).map(|q| q * FIRST_OF_QUICKEST);
        let upper = s.and_then(|s| s.first_done).map(|f| f * 0.5);
        let start = self.sim(FIRST_POLL).as_secs_f64();
        let secs = match (learnt, upper) {
            (Some(l), Some(u)) => l.min(u),
            (Some(l), None) => l,
            (None, Some(u)) => u,
            (None, None) => start,
        };
        Duration::from_secs_f64(secs.max(self.sim(MIN_GAP).as_secs_f64()))
    }

    /// The gap after a pending answer of a task this old.
    pub fn gap(&self, age: Duration) -> Duration {
        age.mul_f64(AGE_FRACTION).clamp(self.sim(MIN_GAP), self.sim(MAX_GAP))
    }

    /// A task accepted at `accepted` is to be polled; `fresh`: accepted in this run
    /// (a resumed task is polled at once and teaches nothing). Returns its first due time.
    pub fn start(&mut self, index: Id, key: RenderKey, accepted: Instant, fresh: bool) -> Instant {
        let due = if fresh { accepted + self.first_poll(&key) } else { accepted };
        self.tasks.insert(index, Task { key, accepted, fresh, sent: None, pending: None, due });
        due
    }

    /// A poll of this task went out.
    pub fn sent(&mut self, index: Id, now: Instant) {
        if let Some(t) = self.tasks.get_mut(&index) {
            t.sent = Some(now);
        }
    }

    /// The poll answered pending: returns the next due time.
    pub fn pending(&mut self, index: Id, now: Instant) -> Option<Instant> {
        let first = self.tasks.get(&index).map(|t| self.first_poll(&t.key))?;
        let t = self.tasks.get(&index)?;
        let age = now.saturating_duration_since(t.accepted);
        let gap = self.gap(age);
        let t = self.tasks.get_mut(&index)?;
        t.pending = t.sent.take().or(Some(now));
        // A task polled early (riding along in a sweep) still waits for its first poll time.
        t.due = (now + gap).max(t.accepted + first);
        Some(t.due)
    }

    /// The poll failed (no answer): try again after the usual gap.
    pub fn retry(&mut self, index: Id, now: Instant) -> Option<Instant> {
        let age = now.saturating_duration_since(self.tasks.get(&index)?.accepted);
        let gap = self.gap(age);
        let t = self.tasks.get_mut(&index)?;
        t.sent = None;
        t.due = now + gap;
        Some(t.due)
    }

    /// The poll answered done: learn the render time; the task leaves the schedule.
    pub fn done(&mut self, index: Id, now: Instant) {
        if let Some(t) = self.tasks.remove(&index)
            && t.fresh
        {
            let age = |at: Instant| at.saturating_duration_since(t.accepted);
            self.renders.observe(t.key, t.pending.map(age), age(now));
        }
    }

    /// The task leaves the schedule without teaching anything (failed, given up).
    pub fn forget(&mut self, index: Id) {
        self.tasks.remove(&index);
    }

    /// How long a task accepted in this run is known to have rendered: until its last
    /// pending answer (for the ETA: a render not yet ended is longer than that). None:
    /// resumed, its render's start unknown.
    pub fn known_going(&self, index: Id) -> Option<Duration> {
        let t = self.tasks.get(&index).filter(|t| t.fresh)?;
        Some(t.pending.map_or(Duration::ZERO, |p| p.saturating_duration_since(t.accepted)))
    }

    pub fn due(&self, index: Id) -> Option<Instant> {
        self.tasks.get(&index).map(|t| t.due)
    }

    /// The gap between sweeps of a batched provider.
    fn sweep_gap(&self, keys: &[RenderKey], pressure: bool) -> Duration {
        let floor = self.sim(MIN_SWEEP);
        let q = |q: f64| {
            keys.iter()
                .filter_map(|k| self.renders.get(k).and_then(|s| s.quantile(q)))
                .min_by(f64::total_cmp)
                .map(Duration::from_secs_f64)
        };
        if pressure {
            q(0.1).map_or(floor, |d| d.mul_f64(TIGHT_SWEEP).min(self.sim(PRESSURE_SWEEP)).max(floor))
        } else {
            q(0.5).map_or(self.sim(FIRST_POLL), |d| d.mul_f64(LAZY_SWEEP)).max(floor)
        }
    }

    /// The next poll request for one provider: plan indices of the tasks it carries,
    /// or empty when none is due. `candidates` are the provider's tasks not busy
    /// (no poll in the air) and still awaited; `lane` identifies the provider.
    pub fn next_batch(&mut self, lane: u8, view: LaneView, candidates: &[Id], now: Instant) -> Vec<Id> {
        self.wake.remove(&lane);
        let tasks: Vec<(Id, &Task)> = candidates
            .iter()
            .filter_map(|i| self.tasks.get(i).map(|t| (*i, t)))
            .filter(|(_, t)| t.sent.is_none())
            .collect();
        let due: Vec<Id> = tasks.iter().filter(|(_, t)| t.due <= now).map(|(i, _)| *i).collect();
        if view.batch <= 1 {
            // A task left due this long goes first, whatever its chance: with hundreds
            // due at once, likeliest-first alone left some unpolled past Segmind's
            // retention (a 20,000-shot rehearsal lost paid jobs so).
            let overdue =
                tasks.iter().filter(|(_, t)| t.due + self.sim(OVERDUE_SECS) <= now).min_by_key(|(i, t)| (t.due, *i));
            if let Some((i, _)) = overdue {
                return vec![*i];
            }
            if due.is_empty() {
                return Vec::new();
            }
            // One task per request: the one most likely to have ended since it was last seen pending.
            let best = due
                .iter()
                .copied()
                .max_by(|a, b| self.chance(*a, now).total_cmp(&self.chance(*b, now)).then(b.cmp(a)))
                .expect("non-empty");
            return vec![best];
        }
        // Under pressure, a sweep may go as soon as a task is past the quickest renders
        // learnt (tasks with nothing learnt keep the per-task rule).
        let ended: Vec<bool> = if view.pressure {
            tasks.iter().filter_map(|(_, t)| self.may_have_ended(t, view.full, now)).collect()
        } else {
            vec![]
        };
        if due.is_empty() && !ended.contains(&true) {
            if !ended.is_empty() {
                // Look again when the next sweep may go (a task may be past its first poll by then).
                let gap = self.sweep_gap(&Self::keys(&tasks), true);
                self.wake.insert(lane, now + gap);
            }
            return Vec::new();
        }
        let keys = Self::keys(&tasks);
        // A sweep is one moment: every request of it goes in the same pass.
        let last = self.last_sweep.get(&lane).copied();
        let in_sweep = last == Some(now);
        let gap = self.sweep_gap(&keys, view.pressure);
        if !in_sweep && let Some(l) = last.filter(|l| now < *l + gap) {
            if view.pressure {
                self.wake.insert(lane, l + gap);
            }
            return Vec::new();
        }
        self.last_sweep.insert(lane, now);
        let mut order: Vec<(Instant, Id)> = tasks.iter().map(|(i, t)| (t.due, *i)).collect();
        order.sort();
        // The due ones, then the next due to fill the request: riding along costs nothing.
        order.into_iter().take(view.batch).map(|(_, i)| i).collect()
    }

    /// The render keys of these tasks (for the sweep gap).
    fn keys(tasks: &[(Id, &Task)]) -> Vec<RenderKey> {
        let mut k: Vec<RenderKey> = tasks.iter().map(|(_, t)| t.key).collect();
        k.sort();
        k.dedup();
        k
    }

    /// Whether, by the renders learnt, a task accepted in this run may have ended: it is
    /// past its first poll (just under the quickest renders). With nothing learnt yet
    /// (the night's first wave), a full lane's task may have ended once it is unseen for
    /// `PRESSURE_SWEEP`, or `FULL_AGE_FRACTION` of its age when longer (so a first wave
    /// of 10-minute renders costs about 3 requests per clip, not 10). None: its own due
    /// time rules (a resumed task; nothing learnt and the lane not full).
    fn may_have_ended(&self, t: &Task, full: bool, now: Instant) -> Option<bool> {
        if !t.fresh {
            return None;
        }
        let age = now.saturating_duration_since(t.accepted);
        if self.renders.get(&t.key).is_some() {
            return Some(age >= self.first_poll(&t.key));
        }
        if !full {
            return None;
        }
        let unseen = now.saturating_duration_since(t.pending.unwrap_or(t.accepted));
        Some(unseen >= self.sim(PRESSURE_SWEEP).max(age.mul_f64(FULL_AGE_FRACTION)))
    }

    /// When a sweep under pressure is next worth considering, if one may be (the
    /// dispatcher wakes then; without pressure the tasks' own due times are enough).
    pub fn next_wake(&self) -> Option<Instant> {
        self.wake.values().min().copied()
    }

    /// The chance that a task's render ended since its last pending answer.
    fn chance(&self, index: Id, now: Instant) -> f64 {
        let Some(t) = self.tasks.get(&index) else { return 0.0 };
        let age = |at: Instant| at.saturating_duration_since(t.accepted).as_secs_f64();
        let from = t.pending.map_or(0.0, age);
        match self.renders.get(&t.key) {
            Some(s) if t.fresh => s.ended_between(from, age(now)),
            // Nothing learnt (or a resumed task): the longer unseen relative to its age, the likelier.
            _ => {
                let a = age(now).max(1e-9);
                ((age(now) - from) / a).min(1.0) * 0.5 + if t.fresh { 0.0 } else { 0.5 }
            }
        }
    }

    /// Tasks being polled.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: RenderKey = ("minimax:3@1", Resolution::P768, 6);
    const BATCHED: LaneView = LaneView { batch: 100, pressure: true, full: true };

    fn s(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    /// Plays one task with a fixed render against the schedule (the fake clock is
    /// `t0 + offset`): returns how late its end was seen and how many polls it took.
    fn play(sched: &mut Schedule, index: usize, t0: Instant, render: f64) -> (f64, u32) {
        let mut due = sched.start(index, K, t0, true);
        let mut polls = 0;
        loop {
            polls += 1;
            sched.sent(index, due);
            let age = due.duration_since(t0).as_secs_f64();
            if age >= render {
                sched.done(index, due);
                return (age - render, polls);
            }
            due = sched.pending(index, due).unwrap();
        }
    }

    #[test]
    fn a_finished_render_waits_at_most_a_tenth_of_its_render_time_whatever_it_is() {
        for render in [2.0, 3.7, 15.0, 29.0, 60.0, 90.0, 600.0] {
            let mut sched = Schedule::new(1.0);
            let (late, polls) = play(&mut sched, 1, Instant::now(), render);
            let bound = (render * AGE_FRACTION).max(MIN_GAP) + 1e-6;
            assert!(late <= bound, "render {render}: seen {late:.2} s late (bound {bound:.2})");
            assert!(polls < 80, "render {render}: {polls} polls");
        }
    }

    #[test]
    fn learnt_render_times_are_not_biased_by_the_poll_schedule() {
        // Renders of 45-90 s: the learnt median stays within 5 % of the true one,
        // where "when a poll saw it" would be later by the whole gap.
        let mut sched = Schedule::new(1.0);
        let t0 = Instant::now();
        let mut truth = Vec::new();
        for i in 0..200 {
            let render = 45.0 + 45.0 * ((i * 37) % 200) as f64 / 200.0;
            truth.push(render);
            play(&mut sched, i, t0 + s(i as f64), render);
        }
        truth.sort_by(f64::total_cmp);
        let learnt = sched.renders.get(&K).unwrap().quantile(0.5).unwrap();
        let real = truth[100];
        assert!((learnt - real).abs() / real < 0.05, "learnt median {learnt:.1}, real {real:.1}");
        // Once learnt, the first poll waits for the quickest renders, not 1 s.
        let first = sched.first_poll(&K).as_secs_f64();
        assert!((38.0..=46.0).contains(&first), "first poll at {first:.1} s");
    }

    #[test]
    fn a_render_seen_done_at_its_first_poll_pulls_the_first_poll_earlier() {
        let mut sched = Schedule::new(1.0);
        let t0 = Instant::now();
        for i in 0..20 {
            play(&mut sched, i, t0, 40.0);
        }
        let before = sched.first_poll(&K);
        assert!(before > s(30.0));
        // The queue got faster: a render done by its first poll halves the wait.
        let due = sched.start(99, K, t0, true);
        sched.sent(99, due);
        sched.done(99, due);
        assert!(sched.first_poll(&K) <= before.mul_f64(0.51), "{:?}", sched.first_poll(&K));
    }

    #[test]
    fn one_request_sweeps_every_task_in_flight_up_to_the_batch() {
        let mut sched = Schedule::new(1.0);
        let t0 = Instant::now();
        for i in 0..150 {
            sched.start(i, K, t0 + s(i as f64 * 0.01), true);
        }
        let all: Vec<usize> = (0..150).collect();
        // Nothing due yet.
        assert!(sched.next_batch(0, BATCHED, &all, t0 + s(0.5)).is_empty());
        // One task due: the request fills up with the next due (riding along is free).
        let now = t0 + s(1.0);
        let first = sched.next_batch(0, BATCHED, &all, now);
        assert_eq!(first.len(), 100);
        for i in &first {
            sched.sent(*i, now);
        }
        // The same sweep may send a second request for the rest, once they are due.
        let rest = sched.next_batch(0, BATCHED, &all, now);
        assert!(rest.is_empty(), "the rest is not due yet: {}", rest.len());
        let later = t0 + s(2.6);
        let second = sched.next_batch(0, BATCHED, &all, later);
        assert_eq!(second.len(), 50, "the 50 not polled yet");
    }

    #[test]
    fn without_pressure_sweeps_are_pooled_and_with_pressure_they_follow_each_task() {
        let mut sched = Schedule::new(1.0);
        let t0 = Instant::now();
        for i in 0..30 {
            play(&mut sched, i, t0, 3.0); // a 3 s median is learnt
        }
        let lazy = LaneView { batch: 100, pressure: false, full: false };
        let polls = |view: LaneView| {
            let mut sched = Schedule {
                tasks: BTreeMap::new(),
                last_sweep: HashMap::new(),
                wake: HashMap::new(),
                ..sched_clone(&sched)
            };
            // A task every 100 ms for 20 s, each rendering 3 s.
            let (mut requests, mut i) = (0, 0usize);
            let mut renders: HashMap<usize, Instant> = HashMap::new();
            let mut now = t0;
            while now < t0 + s(20.0) {
                if (now - t0).as_millis().is_multiple_of(100) {
                    sched.start(i, K, now, true);
                    renders.insert(i, now + s(3.0));
                    i += 1;
                }
                let cands: Vec<usize> = renders.keys().copied().collect();
                let b = sched.next_batch(0, view, &cands, now);
                if !b.is_empty() {
                    requests += 1;
                    for k in b {
                        sched.sent(k, now);
                        if renders[&k] <= now {
                            sched.done(k, now);
                            renders.remove(&k);
                        } else {
                            sched.pending(k, now);
                        }
                    }
                }
                now += s(0.01);
            }
            requests
        };
        let (p_lazy, p_tight) = (polls(lazy), polls(BATCHED));
        assert!(p_lazy * 2 < p_tight, "lazy {p_lazy} requests, tight {p_tight}");
        assert!(p_lazy <= 20 / 2 + 1, "at most one sweep per 0.75 × median: {p_lazy}");
    }

    /// Plays 60 tasks of renders 45-90 s on a lane under pressure (10 ms ticks, as a
    /// dispatcher would ask): returns (mean, max) seconds a render was seen late, and the requests.
    fn play_full_lane(sched: &mut Schedule, t0: Instant) -> (f64, f64, u32) {
        let mut ends: HashMap<usize, Instant> = HashMap::new();
        for i in 0..60 {
            let at = t0 + s(i as f64 * 0.1);
            sched.start(1000 + i, K, at, true);
            ends.insert(1000 + i, at + s(45.0 + 45.0 * ((i * 37) % 60) as f64 / 60.0));
        }
        let (mut late, mut requests, mut now) = (Vec::new(), 0, t0);
        while !ends.is_empty() && now < t0 + s(300.0) {
            let cands: Vec<usize> = ends.keys().copied().collect();
            let batch = sched.next_batch(0, BATCHED, &cands, now);
            if !batch.is_empty() {
                requests += 1;
                for k in batch {
                    sched.sent(k, now);
                    if ends[&k] <= now {
                        late.push((now - ends[&k]).as_secs_f64());
                        sched.done(k, now);
                        ends.remove(&k);
                    } else {
                        sched.pending(k, now);
                    }
                }
            }
            now += s(0.01);
        }
        assert!(ends.is_empty(), "every render seen");
        let mean = late.iter().sum::<f64>() / late.len() as f64;
        (mean, late.iter().copied().fold(0.0, f64::max), requests)
    }

    #[test]
    fn under_pressure_a_full_lane_frees_a_finished_slot_within_about_a_second() {
        // Renders of 45-90 s learnt; then 60 tasks fill the lane with work waiting.
        let mut sched = Schedule::new(1.0);
        let t0 = Instant::now();
        for i in 0..100 {
            play(&mut sched, i, t0, 45.0 + 45.0 * ((i * 37) % 100) as f64 / 100.0);
        }
        let (mean, max, requests) = play_full_lane(&mut sched, t0);
        // The per-task rule alone sees them a tenth of their age late: 2 to 4.5 s on average.
        assert!(mean <= 0.75, "seen {mean:.2} s late on average");
        assert!(max <= PRESSURE_SWEEP + 0.6, "seen up to {max:.2} s late");
        // About one request a second while renders end (45 s), none before the quickest could.
        assert!((40..=80).contains(&requests), "{requests} requests");
        // Without pressure the same lane is polled by the per-task rule (pooled), far less often.
        let lazy = {
            let mut sched = Schedule::new(1.0);
            for i in 0..100 {
                play(&mut sched, i, t0, 45.0 + 45.0 * ((i * 37) % 100) as f64 / 100.0);
            }
            let mut n = 0;
            let view = LaneView { batch: 100, pressure: false, full: false };
            for i in 0..60 {
                sched.start(1000 + i, K, t0, true);
            }
            let cands: Vec<usize> = (1000..1060).collect();
            let mut now = t0;
            while now < t0 + s(45.0) {
                let b = sched.next_batch(0, view, &cands, now);
                n += u32::from(!b.is_empty());
                for k in b {
                    sched.sent(k, now);
                    sched.pending(k, now);
                }
                now += s(0.01);
            }
            n
        };
        assert!(lazy <= 3, "without pressure, {lazy} sweeps before 45 s");
    }

    #[test]
    fn at_the_end_of_the_night_nothing_learnt_keeps_the_per_task_rule_and_asks_no_wake() {
        let mut sched = Schedule::new(1.0);
        let t0 = Instant::now();
        for i in 0..60 {
            sched.start(i, K, t0, true);
        }
        let cands: Vec<usize> = (0..60).collect();
        let end = LaneView { batch: 100, pressure: true, full: false };
        // First poll at 1 s, whatever the pressure; no renders learnt: no early wake.
        assert!(sched.next_batch(0, end, &cands, t0 + s(0.5)).is_empty());
        assert_eq!(sched.next_wake(), None);
        assert_eq!(sched.next_batch(0, end, &cands, t0 + s(1.0)).len(), 60);
    }

    #[test]
    fn a_full_lane_with_nothing_learnt_is_swept_every_second_then_every_fiftieth_of_its_age() {
        let mut sched = Schedule::new(1.0);
        let t0 = Instant::now();
        for i in 0..60 {
            sched.start(i, K, t0 + s(i as f64 * 0.1), true);
        }
        let cands: Vec<usize> = (0..60).collect();
        let (mut sweeps, mut now, mut gaps) = (Vec::new(), t0, Vec::new());
        while now < t0 + s(600.0) {
            let b = sched.next_batch(0, BATCHED, &cands, now);
            if !b.is_empty() {
                if let Some(last) = sweeps.last() {
                    gaps.push((now - *last, now - t0));
                }
                sweeps.push(now);
                for k in b {
                    sched.sent(k, now);
                    sched.pending(k, now);
                }
            }
            now += s(0.01);
        }
        // A render ending at 46 s is seen within about a second (the age rule: 4.6 s).
        let around = |at: f64| gaps.iter().find(|(_, t)| t.as_secs_f64() >= at).unwrap().0.as_secs_f64();
        assert!(around(46.0) <= 1.1, "{:.2} s between sweeps at 46 s", around(46.0));
        // Renders of 10 minutes: the sweeps thin out (1/50 of the age, 12 s at 10 min).
        assert!((10.0..=13.0).contains(&around(590.0)), "{:.2} s at 590 s", around(590.0));
        assert!(sweeps.len() < 200, "{} sweeps for 60 tasks over 10 minutes", sweeps.len());
    }

    fn sched_clone(s: &Schedule) -> Schedule {
        Schedule {
            time_scale: s.time_scale,
            tasks: s.tasks.clone(),
            renders: s.renders.clone(),
            last_sweep: s.last_sweep.clone(),
            wake: s.wake.clone(),
        }
    }

    #[test]
    fn one_task_per_request_goes_to_the_likeliest_result() {
        let mut sched = Schedule::new(1.0);
        let t0 = Instant::now();
        for i in 0..50 {
            play(&mut sched, i, t0, 40.0 + (i % 10) as f64); // renders of 40-49 s
        }
        let view = LaneView { batch: 1, pressure: true, full: true };
        // Task 100 is 10 s old (no render ends that soon); task 101 is 45 s old.
        let young = t0 + s(100.0);
        sched.start(100, K, young - s(10.0), true);
        sched.start(101, K, young - s(45.0), true);
        sched.tasks.get_mut(&100).unwrap().due = young;
        sched.tasks.get_mut(&101).unwrap().due = young;
        sched.tasks.get_mut(&101).unwrap().pending = Some(young - s(41.0));
        assert_eq!(sched.next_batch(1, view, &[100, 101], young), vec![101]);
    }

    #[test]
    fn a_task_left_due_too_long_goes_before_likelier_ones() {
        let mut sched = Schedule::new(1.0);
        let t0 = Instant::now();
        for i in 0..50 {
            play(&mut sched, i, t0, 40.0 + (i % 10) as f64);
        }
        let view = LaneView { batch: 1, pressure: true, full: false };
        // Task 100 renders longer than any learnt (seen pending at 68 s: its chance
        // is nil) and has been due, unpolled, for longer than OVERDUE_SECS.
        let now = t0 + s(200.0);
        sched.start(100, K, now - s(100.0), true);
        sched.start(101, K, now - s(45.0), true);
        sched.tasks.get_mut(&100).unwrap().due = now - s(OVERDUE_SECS + 1.0);
        sched.tasks.get_mut(&100).unwrap().pending = Some(now - s(OVERDUE_SECS + 2.0));
        sched.tasks.get_mut(&101).unwrap().due = now;
        sched.tasks.get_mut(&101).unwrap().pending = Some(now - s(41.0));
        assert_eq!(sched.next_batch(1, view, &[100, 101], now), vec![100]);
        // Not yet too long: the likeliest goes first again.
        sched.tasks.get_mut(&100).unwrap().due = now - s(OVERDUE_SECS - 1.0);
        assert_eq!(sched.next_batch(1, view, &[100, 101], now), vec![101]);
    }

    #[test]
    fn time_scale_scales_the_floors() {
        let sched: Schedule = Schedule::new(0.01);
        assert_eq!(sched.first_poll(&K), Duration::from_millis(10));
        assert_eq!(sched.gap(Duration::ZERO), Duration::from_millis(5));
    }
}
