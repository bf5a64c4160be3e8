//! What the ETA needs from the dispatcher: per provider, the jobs left, the ages of
//! those in flight, the lane's pace and cap, the render learnt so far. The
//! arithmetic is `run::eta`'s.

use super::*;
use crate::run::eta::{self, LaneWork};

/// The share of renders the night's last results are taken to be no longer than.
const TAIL_QUANTILE: f64 = 0.9;

impl Dispatcher<'_> {
    pub(super) fn eta_now(&self) -> Option<Duration> {
        let now = Instant::now();
        let scale = self.ctx.timing.time_scale;
        let mut lanes = Vec::new();
        for p in &self.providers {
            let lane = &self.ctx.lanes[p];
            let jobs = &self.ctx.plan.jobs;
            // A job's expected render and its 90th percentile (the tail: the mean when
            // nothing is learnt), in real seconds.
            let render_of = |id: JobId| {
                let j = self.job(id);
                let key = (j.model.id, j.resolution, j.duration);
                let mean = self
                    .sched
                    .renders
                    .mean(&key)
                    .map_or_else(|| j.model.typical_render_secs_for(j.duration) * scale, |d| d.as_secs_f64());
                let tail = self.sched.renders.quantile(&key, TAIL_QUANTILE).map_or(mean, |d| d.as_secs_f64());
                (mean, tail)
            };
            let queue = self.submit_queue.get(p).map(Vec::as_slice).unwrap_or_default();
            let left: Vec<JobId> =
                queue.iter().copied().filter(|id| !self.activity(*id).busy() && self.may_submit(*id)).collect();
            let polled: Vec<JobId> =
                self.polling.get(p).into_iter().flatten().copied().filter(|id| self.activity(*id).polling()).collect();
            let mut ages: Vec<f64> =
                polled.iter().map(|id| self.live(*id).accepted_at.map_or(0.0, |t| (now - t).as_secs_f64())).collect();
            // Submits waiting for their slot in a burst's window start that much later.
            let (next_send, held) = lane.send_waits(now);
            let submitting = self.tally(*p).submitting() as usize;
            ages.extend(held.iter().map(|wait| -wait).chain(std::iter::repeat(0.0)).take(submitting));
            // The mean render and tail of a sample of the jobs left (a night's jobs are
            // mostly alike); the tail sets the night's last results.
            let sample: Vec<(f64, f64)> = left.iter().chain(&polled).take(1000).map(|id| render_of(*id)).collect();
            let mean = |f: fn(&(f64, f64)) -> f64| {
                if sample.is_empty() { 0.0 } else { sample.iter().map(f).sum::<f64>() / sample.len() as f64 }
            };
            let (render_secs, tail_secs) = (mean(|s| s.0), mean(|s| s.1));
            let (mut failed, mut settled) = (0u64, 0u64);
            for j in jobs {
                if j.provider != *p {
                    continue;
                }
                match self.state.jobs.get(&j.key).map(|s| &s.phase) {
                    Some(Phase::Failed { .. }) => (failed, settled) = (failed + 1, settled + 1),
                    Some(Phase::Done) => settled += 1,
                    _ => {}
                }
            }
            lanes.push(LaneWork {
                to_submit: left.len() as u64,
                in_flight_ages: ages,
                cap: u64::from(lane.limits.max_in_flight),
                pace_per_sec: lane.pace_per_minute() / 60.0 / scale.max(1e-9),
                render_secs,
                tail_secs,
                next_send_secs: next_send,
                failed_share: failed as f64 / settled.max(1) as f64,
            });
        }
        eta::estimate(&lanes)
    }
}
