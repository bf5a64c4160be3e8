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
    /// The ages of the jobs in flight (accepted and awaited; being submitted: 0, or
    /// less than 0 by the wait for the send slot it holds in a burst's window).
    pub in_flight_ages: Vec<f64>,
    /// The in-flight cap.
    pub cap: u64,
    /// Submits per real second the lane allows now.
    pub pace_per_sec: f64,
    /// The expected render of the jobs left (real seconds).
    pub render_secs: f64,
    /// The render the night's last results take (a high quantile of those learnt: the
    /// last of many renders ends later than the mean one); at most `render_secs` adds
    /// nothing.
    pub tail_secs: f64,
    /// Real seconds until the lane may send its next submit (a burst's window full).
    pub next_send_secs: f64,
    /// The share of this provider's settled jobs that failed before any render (they
    /// settle at once: the jobs left that will, take no slot).
    pub failed_share: f64,
}

/// Real seconds until this provider's last result. Jobs in flight free their slots
/// as their renders end (a render past the expected one is taken as nearly done);
/// the jobs left take the slots in the order they free, a render each, no faster
/// than the pace; the last of them sets the end.
///
/// The end itself is the last of many renders, not a mean one: the last results are
/// taken to need `tail_secs` (the jobs in flight at the end: that much from their
/// start, or a twentieth of the render more when older).
pub fn lane_secs(w: &LaneWork) -> f64 {
    let render = w.render_secs.max(0.0);
    let tail = w.tail_secs.max(render);
    let left = |age: &f64| (render - age).max(render * 0.05);
    if w.to_submit == 0 {
        return w.in_flight_ages.iter().map(|age| (tail - age).max(render * 0.05)).fold(0.0, f64::max);
    }
    let mut remaining: Vec<f64> = w.in_flight_ages.iter().map(left).collect();
    remaining.sort_by(f64::total_cmp);
    let cap = w.cap.max(1) as usize;
    let free = cap.saturating_sub(remaining.len());
    let rendering = ((w.to_submit as f64) * (1.0 - w.failed_share.clamp(0.0, 1.0))).round().max(1.0) as usize;
    let last = rendering - 1;
    let (wave, slot) = (last / cap, last % cap);
    let slot_free = if slot < free { 0.0 } else { remaining.get(slot - free).copied().unwrap_or(0.0) };
    let by_slots = slot_free + wave as f64 * render;
    let by_pace = w.next_send_secs.max(0.0) + (w.to_submit - 1) as f64 / w.pace_per_sec.max(1e-9);
    by_slots.max(by_pace) + tail
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
                in_flight_ages: rendering.iter().map(|s| t - s).collect(),
                cap,
                pace_per_sec: pace,
                render_secs: render,
                tail_secs: render,
                next_send_secs: 0.0,
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
            in_flight_ages: vec![14.0, 20.0, 25.0],
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
            in_flight_ages: vec![-10.0],
            cap: 1,
            pace_per_sec: 10.0,
            render_secs: 20.0,
            ..Default::default()
        };
        assert_eq!(lane_secs(&held), 30.0 + 20.0);
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
}
