//! The ETA of a night: per provider, the work left against whichever binds, the
//! submit pace or the jobs in flight over the render time learnt so far (the
//! catalog's typical render until one is learnt); providers run side by side, so the
//! night ends with the slowest. Pure arithmetic on what the dispatcher knows.

use std::time::Duration;

/// One provider's work left, in real seconds and counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LaneWork {
    /// Jobs still to be accepted (failed and settled ones are not counted: a failed
    /// clip moves the bar like a done one).
    pub to_submit: u64,
    /// The jobs in flight (accepted and awaited, or being submitted).
    pub in_flight: Vec<Going>,
    /// The in-flight cap.
    pub cap: u64,
    /// Submits per real second the lane allows now.
    pub pace_per_sec: f64,
    /// The expected render of the jobs left (real seconds).
    pub render_secs: f64,
    /// The render the night's last results take (a high quantile of the renders: the
    /// last of many renders ends later than the mean one); at most `render_secs` adds
    /// nothing.
    pub tail_secs: f64,
    /// Real seconds until the lane may send its next submit (a burst's window full).
    pub next_send_secs: f64,
    /// While the lane bursts: real seconds until the last of `to_submit` goes, its
    /// windows' slots replayed (the pace does not say it: a burst goes faster, then
    /// waits for its window).
    pub sends_end_secs: Option<f64>,
    /// With nothing left to submit: the expected end of the last render in flight
    /// (see [`expected_last`]); None: the latest of each one's own late end.
    pub last_end_secs: Option<f64>,
    /// The share of this provider's settled jobs that failed before any render (they
    /// settle at once: the jobs left that will, take no slot).
    pub failed_share: f64,
}

/// A job in flight: real seconds until its render is expected to end, and until it
/// ends late (the tail's quantile of the renders as old as it).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Going {
    pub left: f64,
    pub tail: f64,
}

impl Going {
    /// A job `age` seconds into a render of `renders` (less than 0: a submit that
    /// waits that long for its slot), last known going at age `known`.
    pub fn of(renders: &Survival, age: f64, known: f64, tail_q: f64) -> Going {
        let known = known.clamp(0.0, age.max(0.0));
        Going {
            left: renders.left(age.max(0.0), known) - age.min(0.0),
            tail: renders.quantile_past(known, tail_q) - age,
        }
    }
}

/// Real seconds until this provider's last result. Jobs in flight free their slots
/// as their renders end; the jobs left take the slots in the order they free, a
/// render each, no faster than the pace; the last of them sets the end.
///
/// The end itself is the last of many renders, not a mean one: the last results are
/// taken to need `tail_secs` (the jobs in flight at the end: their own late end).
/// A job past every render expected is taken as nearly done (a twentieth of the render).
pub fn lane_secs(w: &LaneWork) -> f64 {
    let render = w.render_secs.max(0.0);
    let tail = w.tail_secs.max(render);
    let floor = render * 0.05;
    if w.to_submit == 0 {
        return match w.last_end_secs {
            Some(last) if !w.in_flight.is_empty() => last.max(floor),
            _ => w.in_flight.iter().map(|g| g.tail.max(g.left).max(floor)).fold(0.0, f64::max),
        };
    }
    let mut remaining: Vec<f64> = w.in_flight.iter().map(|g| g.left.max(floor)).collect();
    remaining.sort_by(f64::total_cmp);
    let cap = w.cap.max(1) as usize;
    let free = cap.saturating_sub(remaining.len());
    let rendering = ((w.to_submit as f64) * (1.0 - w.failed_share.clamp(0.0, 1.0))).round().max(1.0) as usize;
    let last = rendering - 1;
    let (wave, slot) = (last / cap, last % cap);
    let slot_free = if slot < free { 0.0 } else { remaining.get(slot - free).copied().unwrap_or(0.0) };
    let by_slots = slot_free + wave as f64 * render;
    let by_pace = w
        .sends_end_secs
        .unwrap_or_else(|| w.next_send_secs.max(0.0) + (w.to_submit - 1) as f64 / w.pace_per_sec.max(1e-9));
    by_slots.max(by_pace) + tail
}

/// The expected end, in seconds from now, of the last of the renders going: each
/// `(curve, age, known)` a render `age` seconds old, last known going at age `known`
/// (an age below 0: a send that starts rendering that much later). The last of many
/// ends later than each one's mean; the last of a few, sooner than the latest of each
/// one's late end (4 renders left of a night of 45 to 90 s were told 16 s for 8). The
/// renders end independently: the chance that all have ended by `t` is the product
/// of each one's; the expectation is the area above it.
pub fn expected_last<'a>(going: impl IntoIterator<Item = (&'a Survival, f64, f64)>) -> f64 {
    const STEPS: usize = 256;
    let jobs: Vec<(&Survival, f64, f64)> = going
        .into_iter()
        .map(|(c, age, known)| (c, age, c.going_at(known.clamp(0.0, age.max(0.0)))))
        .filter(|(_, _, was)| *was > 0.0)
        .collect();
    let horizon = jobs.iter().map(|(c, age, _)| c.end - age).fold(0.0, f64::max);
    if horizon <= 0.0 {
        return 0.0;
    }
    let dt = horizon / STEPS as f64;
    (0..STEPS)
        .map(|k| {
            let t = (k as f64 + 0.5) * dt;
            let all_ended: f64 =
                jobs.iter().map(|(c, age, was)| (1.0 - c.going_at(age + t) / was).clamp(0.0, 1.0)).product();
            (1.0 - all_ended) * dt
        })
        .sum()
}

/// A render-time distribution for the ETA: the share of renders still going at each
/// age (a survival curve), learnt from the renders seen ended and from those still
/// going, each known to take longer than it has so far (right-censored, Kaplan–Meier).
/// Early in a night only the quickest renders have ended: from them alone the renders
/// look short, and the jobs still going, older than every render learnt, look nearly
/// done (a night of 45 to 90 s renders was told 60 s for 117 s left at a tenth done).
/// Past the oldest age seen the curve is not known; it is taken to fall on as it fell
/// from the quickest render to there (a straight line, at most to twice that age).
#[derive(Clone, Debug, PartialEq)]
pub struct Survival {
    /// The curve's steps, from age 0: from `t` on, the share `s` of renders is still going.
    steps: Vec<Step>,
    /// Past the last step, the share falls in a straight line to 0 at this age.
    end: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Step {
    t: f64,
    s: f64,
    /// The area under the curve from 0 to `t` (the mean render is the whole area).
    area: f64,
}

impl Survival {
    /// Every render takes `secs` (what the catalog assumes before anything is learnt).
    pub fn assumed(secs: f64) -> Survival {
        let secs = secs.max(0.0);
        Survival { steps: vec![Step { t: 0.0, s: 1.0, area: 0.0 }, Step { t: secs, s: 0.0, area: secs }], end: secs }
    }

    /// Learnt from `ended` renders and the ages `going` renders are known to have
    /// passed; each going one weighs `going_weight` (below 1 when `ended` keeps only
    /// the most recent of the renders ended: the share it keeps). None: nothing ended.
    pub fn learn(ended: &[f64], going: &[f64], going_weight: f64) -> Option<Survival> {
        let quickest = ended.iter().copied().reduce(f64::min)?;
        let w = going_weight.clamp(0.0, 1.0);
        let mut ages: Vec<(f64, bool)> =
            ended.iter().map(|t| (t.max(0.0), true)).chain(going.iter().map(|t| (t.max(0.0), false))).collect();
        // At one age, a render ended is counted before those known to go on past it.
        ages.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut at_risk = ended.len() as f64 + w * going.len() as f64;
        let mut steps = vec![Step { t: 0.0, s: 1.0, area: 0.0 }];
        for (t, is_end) in &ages {
            if !*is_end {
                at_risk -= w;
                continue;
            }
            let last = *steps.last().expect("one step from 0");
            let s = last.s * (1.0 - 1.0 / at_risk.max(1.0));
            if *t == last.t {
                steps.last_mut().expect("one step").s = s;
            } else {
                steps.push(Step { t: *t, s, area: last.area + last.s * (t - last.t) });
            }
            at_risk -= 1.0;
        }
        let last = *steps.last().expect("one step from 0");
        let oldest = ages.last().map_or(last.t, |a| a.0);
        if oldest > last.t {
            steps.push(Step { t: oldest, s: last.s, area: last.area + last.s * (oldest - last.t) });
        }
        let end = if last.s <= 1e-9 {
            oldest
        } else {
            let fell = (1.0 - last.s) / (oldest - quickest).max(1e-9);
            (oldest + last.s / fell.max(1e-9)).min(2.0 * oldest)
        };
        Some(Survival { steps, end })
    }

    /// The last step at or before age `t`, and whether it is the last step.
    fn step(&self, t: f64) -> (Step, bool) {
        let i = self.steps.partition_point(|s| s.t <= t).saturating_sub(1);
        (self.steps[i], i + 1 == self.steps.len())
    }

    /// The share of renders still going at age `t`.
    pub fn going_at(&self, t: f64) -> f64 {
        match self.step(t) {
            (s, false) => s.s,
            (s, true) if self.end > s.t => s.s * ((self.end - t) / (self.end - s.t)).clamp(0.0, 1.0),
            (s, true) => s.s,
        }
    }

    /// The area under the curve from 0 to age `t`.
    fn area_to(&self, t: f64) -> f64 {
        match self.step(t) {
            (s, false) => s.area + s.s * (t - s.t),
            (s, true) => {
                let span = self.end - s.t;
                let d = (t.min(self.end) - s.t).max(0.0);
                s.area + if span > 0.0 { s.s * (d - d * d / (2.0 * span)) } else { 0.0 }
            }
        }
    }

    /// The mean render.
    pub fn mean(&self) -> f64 {
        self.area_to(self.end)
    }

    /// The age by which all but `1 - q` of the renders still going at age `known` have ended.
    pub fn quantile_past(&self, known: f64, q: f64) -> f64 {
        let target = (1.0 - q.clamp(0.0, 1.0)) * self.going_at(known);
        let i = self.steps.partition_point(|s| s.s > target);
        let t = match self.steps.get(i) {
            Some(s) => s.t,
            // Within the straight line past the last step.
            None => {
                let last = self.steps[self.steps.len() - 1];
                self.end - (self.end - last.t).max(0.0) * target / last.s
            }
        };
        t.max(known)
    }

    /// The expected time left, at age `age`, of a render known to be going at age
    /// `known` (it may have ended since: then nothing is left of it).
    pub fn left(&self, age: f64, known: f64) -> f64 {
        let going = self.going_at(known);
        if going <= 0.0 {
            return 0.0;
        }
        (self.mean() - self.area_to(age.max(known))) / going
    }
}

/// The ETA of the whole night, or None when nothing is left.
pub fn estimate(lanes: &[LaneWork]) -> Option<Duration> {
    let secs = lanes.iter().map(lane_secs).fold(0.0, f64::max);
    (secs > 0.0 && secs.is_finite()).then(|| Duration::from_secs_f64(secs))
}

/// "1h05m", "12m30s", "45s": what the progress line shows.
pub fn show(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake night on one lane: jobs rendering `render` s, `cap` in flight, a
    /// submit pace; steps of one second. Returns the ETA seen at each second and
    /// the real end.
    fn night(jobs: u64, cap: u64, pace: f64, render: f64, fail_every: u64) -> (Vec<(f64, f64, f64)>, f64) {
        let (mut t, mut submitted, mut settled, mut failed) = (0.0, 0u64, 0u64, 0u64);
        let mut rendering: Vec<f64> = Vec::new(); // start times
        let mut credit = 0.0;
        let mut seen = Vec::new();
        while settled < jobs {
            // Results come back; every `fail_every`-th job fails at submit instead.
            let before = rendering.len();
            rendering.retain(|s| t - s < render);
            settled += (before - rendering.len()) as u64;
            credit += pace;
            while credit >= 1.0 && submitted < jobs && (rendering.len() as u64) < cap {
                credit -= 1.0;
                submitted += 1;
                if fail_every > 0 && submitted % fail_every == 0 {
                    settled += 1; // failed: settled, never in flight
                    failed += 1;
                } else {
                    rendering.push(t);
                }
            }
            credit = credit.min(1.0);
            let w = LaneWork {
                to_submit: jobs - submitted,
                in_flight: rendering.iter().map(|s| Going::of(&Survival::assumed(render), t - s, t - s, 0.9)).collect(),
                cap,
                pace_per_sec: pace,
                render_secs: render,
                tail_secs: render,
                next_send_secs: 0.0,
                sends_end_secs: None,
                last_end_secs: None,
                failed_share: failed as f64 / settled.max(1) as f64,
            };
            seen.push((t, settled as f64 / jobs as f64, estimate(&[w]).map_or(0.0, |d| d.as_secs_f64())));
            t += 1.0;
        }
        (seen, t)
    }

    fn assert_stable(seen: &[(f64, f64, f64)], end: f64, what: &str) {
        for (t, done, eta) in seen {
            if *done >= 0.1 && end - t > 5.0 {
                let real = end - t;
                assert!(
                    (eta - real).abs() <= 0.25 * real,
                    "{what}: at {t} s ({done:.2} done) ETA {eta:.0} s, real {real:.0} s"
                );
            }
        }
    }

    #[test]
    fn the_eta_holds_within_a_quarter_once_a_tenth_is_done_whichever_limit_binds() {
        // Rate-bound: 600 jobs at 2/s, renders of 30 s, cap 200.
        let (seen, end) = night(600, 200, 2.0, 30.0, 0);
        assert_stable(&seen, end, "rate-bound");
        // Concurrency-bound: 300 jobs, 20 in flight, renders of 60 s, pace 5/s.
        let (seen, end) = night(300, 20, 5.0, 60.0, 0);
        assert_stable(&seen, end, "concurrency-bound");
        // Failed jobs settle at once: the ETA follows.
        let (seen, end) = night(300, 20, 5.0, 60.0, 4);
        assert_stable(&seen, end, "with failures");
    }

    #[test]
    fn the_last_results_take_the_long_renders_and_a_full_window_delays_the_sends() {
        // Everything sent, renders of 10 to 30 s (mean 20, 90 % within 28): the youngest
        // job, 14 s old, is taken to end at 28 s, not at the mean 20.
        let end = LaneWork {
            in_flight: [14.0, 20.0, 25.0].map(|age| Going { left: (20.0 - age), tail: 28.0 - age }).to_vec(),
            cap: 600,
            pace_per_sec: 10.0,
            render_secs: 20.0,
            tail_secs: 28.0,
            ..Default::default()
        };
        assert_eq!(lane_secs(&end), 14.0);
        // 406 left whose window frees in 10 s: they start then, at the pace.
        let burst = LaneWork {
            to_submit: 406,
            cap: 600,
            pace_per_sec: 10.0,
            render_secs: 20.0,
            tail_secs: 28.0,
            next_send_secs: 10.0,
            ..Default::default()
        };
        assert!((lane_secs(&burst) - (10.0 + 40.5 + 28.0)).abs() < 1e-9, "{}", lane_secs(&burst));
        // A submit holding a slot 10 s ahead renders from then.
        let held = LaneWork {
            to_submit: 1,
            in_flight: vec![Going::of(&Survival::assumed(20.0), -10.0, 0.0, 0.9)],
            cap: 1,
            pace_per_sec: 10.0,
            render_secs: 20.0,
            ..Default::default()
        };
        assert_eq!(lane_secs(&held), 30.0 + 20.0);
    }

    #[test]
    fn a_bursts_sends_end_when_its_windows_let_them_not_at_the_pace() {
        // 400 left whose burst ends in 12 s (the pace would say 40 s): then the tail.
        let burst = LaneWork {
            to_submit: 400,
            cap: 600,
            pace_per_sec: 10.0,
            render_secs: 20.0,
            tail_secs: 28.0,
            sends_end_secs: Some(12.0),
            ..Default::default()
        };
        assert_eq!(lane_secs(&burst), 12.0 + 28.0);
    }

    #[test]
    fn the_last_of_a_few_renders_ends_sooner_than_the_latest_of_their_late_ends() {
        // Renders of 45 to 90 s; 4 going, 75 s old: each has 0 to 15 s left, evenly.
        // The last of the 4 ends in 12 s (15 × 4/5); each one's 90 % is 13.5 s.
        let curve = Survival::learn(&spread(2000, 45.0, 90.0), &[], 1.0).unwrap();
        let last = expected_last([(&curve, 75.0, 75.0); 4]);
        assert!((last - 12.0).abs() < 0.3, "{last}");
        let latest = Going::of(&curve, 75.0, 75.0, 0.9).tail;
        assert!((latest - 13.5).abs() < 0.3, "{latest}");
        // Of many, later: 40 of them, nearly the whole 15 s (15 × 40/41).
        let many = expected_last([(&curve, 75.0, 75.0); 40]);
        assert!((many - 14.63).abs() < 0.3, "{many}");
        // Renders that all take 30 s end 30 s after the youngest began; a send held 5 s
        // renders from then; one past its render has nothing left.
        let fixed = Survival::assumed(30.0);
        let last =
            expected_last([(&fixed, 10.0, 10.0), (&fixed, 25.0, 25.0), (&fixed, -5.0, 0.0), (&fixed, 40.0, 40.0)]);
        assert!((last - 35.0).abs() < 0.2, "{last}");
        assert_eq!(expected_last([(&fixed, 40.0, 40.0)]), 0.0);
        // Used once nothing is left to submit.
        let w = LaneWork {
            in_flight: vec![Going { left: 5.0, tail: 9.0 }],
            last_end_secs: Some(7.0),
            ..Default::default()
        };
        assert_eq!(lane_secs(&w), 7.0);
    }

    #[test]
    fn the_slowest_provider_sets_the_eta_and_nothing_left_has_none() {
        let fast = LaneWork { to_submit: 10, cap: 10, pace_per_sec: 10.0, render_secs: 5.0, ..Default::default() };
        let slow = LaneWork { to_submit: 10, cap: 1, pace_per_sec: 10.0, render_secs: 5.0, ..Default::default() };
        assert_eq!(estimate(&[fast.clone(), slow]).unwrap().as_secs_f64(), 50.0);
        assert_eq!(estimate(&[fast]).unwrap().as_secs_f64(), 5.9);
        assert_eq!(estimate(&[LaneWork::default()]), None);
        assert_eq!(show(Duration::from_secs(3900)), "1h05m");
        assert_eq!(show(Duration::from_secs(750)), "12m30s");
    }

    /// A night of varied renders on one lane (steps of a second), its ETA taken as the
    /// dispatcher takes it: from the renders ended and, when `censored`, the ages of
    /// those going. Returns the worst error, in per cent of the time really left, from
    /// a tenth of the jobs done to the last tenth of the night.
    fn varied_night(renders: &[f64], cap: usize, pace: f64, censored: bool) -> f64 {
        let (mut t, mut next) = (0.0, 0usize);
        let mut going: Vec<(f64, f64)> = Vec::new(); // (start, render)
        let mut ended: Vec<f64> = Vec::new();
        let mut seen = Vec::new();
        let mut credit = 0.0;
        while ended.len() < renders.len() {
            going.retain(|(start, r)| {
                let done = t - start >= *r;
                if done {
                    ended.push(*r);
                }
                !done
            });
            credit = (credit + pace).min(pace.max(1.0));
            while credit >= 1.0 && next < renders.len() && going.len() < cap {
                credit -= 1.0;
                going.push((t, renders[next]));
                next += 1;
            }
            let ages: Vec<f64> = going.iter().map(|(start, _)| t - start).collect();
            if let Some(curve) = Survival::learn(&ended, if censored { &ages } else { &[] }, 1.0) {
                let w = LaneWork {
                    to_submit: (renders.len() - next) as u64,
                    in_flight: ages.iter().map(|a| Going::of(&curve, *a, *a, 0.9)).collect(),
                    cap: cap as u64,
                    pace_per_sec: pace,
                    render_secs: curve.mean(),
                    tail_secs: curve.quantile_past(0.0, 0.9),
                    last_end_secs: (next == renders.len())
                        .then(|| expected_last(ages.iter().map(|a| (&curve, *a, *a)))),
                    ..Default::default()
                };
                seen.push((t, ended.len(), lane_secs(&w)));
            }
            t += 1.0;
        }
        let end = t - 1.0;
        seen.iter()
            .filter(|(at, done, _)| *done * 10 >= renders.len() && end - at >= 0.1 * end)
            .map(|(at, _, eta)| 100.0 * (eta - (end - at)).abs() / (end - at))
            .fold(0.0, f64::max)
    }

    /// Renders spread evenly (in a shuffled order) over `lo..hi` seconds.
    fn spread(n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|i| lo + (hi - lo) * ((i as f64 * 0.618_034) % 1.0)).collect()
    }

    #[test]
    fn the_renders_still_going_count_so_an_early_eta_is_not_short() {
        // 120 jobs of 45 to 90 s, 60 in flight: at a tenth done only the quickest
        // renders have ended. Counted as lower bounds, the ones going hold the ETA
        // within a quarter; from the ended ones alone it was far short.
        let renders = spread(120, 45.0, 90.0);
        let worst = varied_night(&renders, 60, 10.0, true);
        assert!(worst <= 25.0, "with the renders going: {worst:.1} %");
        let blind = varied_night(&renders, 60, 10.0, false);
        assert!(blind > 30.0, "the ended renders alone: {blind:.1} %");
        // Many waves of short renders, and a rate-bound night: the same holds.
        assert!(varied_night(&spread(400, 2.0, 4.0), 60, 10.0, true) <= 25.0);
        assert!(varied_night(&spread(600, 20.0, 60.0), 600, 5.0, true) <= 25.0);
    }

    #[test]
    fn a_survival_curve_learnt_from_renders_ended_and_going() {
        // Nothing going: the plain sample. 10, 20, 30: mean 20, all ended by 30.
        let c = Survival::learn(&[10.0, 20.0, 30.0], &[], 1.0).unwrap();
        assert!((c.mean() - 20.0).abs() < 1e-9, "{}", c.mean());
        assert_eq!(c.quantile_past(0.0, 0.9), 30.0);
        assert!((c.left(15.0, 15.0) - 10.0).abs() < 1e-9, "20 or 30 left: 5 or 15");
        // Two ended at 10 and 20, two going past 40: half still going at 40, and the
        // line from the quickest (10, all going) through (40, half) ends at 70.
        let c = Survival::learn(&[10.0, 20.0], &[40.0, 40.0], 1.0).unwrap();
        assert!((c.going_at(40.0) - 0.5).abs() < 1e-9, "{}", c.going_at(40.0));
        assert!((c.going_at(55.0) - 0.25).abs() < 1e-9, "{}", c.going_at(55.0));
        assert!((c.quantile_past(40.0, 0.5) - 55.0).abs() < 1e-9);
        assert!((c.left(40.0, 40.0) - 15.0).abs() < 1e-9, "the mean of 40..70 less 40");
        // Capped at twice the oldest age: one ended of a hundred says little.
        let c = Survival::learn(&[10.0], &[20.0; 99], 1.0).unwrap();
        assert!((c.quantile_past(0.0, 1.0) - 40.0).abs() < 1e-9);
        // A going render that weighs less counts less.
        let light = Survival::learn(&[10.0, 20.0], &[40.0, 40.0], 0.1).unwrap();
        assert!(light.going_at(40.0) < 0.2, "{}", light.going_at(40.0));
        // Nothing ended: nothing learnt; the catalog's assumption is one render.
        assert_eq!(Survival::learn(&[], &[5.0], 1.0), None);
        let a = Survival::assumed(30.0);
        assert_eq!((a.mean(), a.quantile_past(0.0, 0.9), a.left(10.0, 10.0)), (30.0, 30.0, 20.0));
    }
}
