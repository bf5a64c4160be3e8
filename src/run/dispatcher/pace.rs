//! What the ETA needs from the dispatcher: per provider, the jobs left, the ages of
//! those in flight, the lane's pace and cap, the render learnt so far. The
//! arithmetic is `run::eta`'s.

use super::*;
use crate::run::eta::{self, Going, LaneWork, Survival};
use crate::run::schedule::RenderKey;

/// The share of renders the night's last results are taken to be no longer than.
const TAIL_QUANTILE: f64 = 0.9;
/// The jobs whose renders the ETA's mean is taken over (a night's jobs are mostly alike).
const SAMPLE: usize = 1000;

impl Dispatcher<'_> {
    pub(super) fn eta_now(&self) -> Option<Duration> {
        let now = Instant::now();
        let scale = self.ctx.timing.time_scale;
        let mut lanes = Vec::new();
        for p in &self.providers {
            let lane = &self.ctx.lanes[p];
            let queue = self.submit_queue.get(p).map(Vec::as_slice).unwrap_or_default();
            let left: Vec<JobId> =
                queue.iter().copied().filter(|id| !self.activity(*id).busy() && self.may_submit(*id)).collect();
            let polled: Vec<JobId> =
                self.polling.get(p).into_iter().flatten().copied().filter(|id| self.activity(*id).polling()).collect();
            let curves = self.render_curves(left.iter().chain(&polled).take(SAMPLE).copied(), &polled);
            let curve_of = |id: JobId| &curves[&self.render_key(id)];
            // The sends waiting for a slot in a burst's window start that much later;
            // those behind a cooldown go at the pace after it, as the jobs not yet handed
            // out; the rest are in the air, rendering from about now.
            let waits = lane.send_waits(now);
            let tally = self.tally(*p);
            let waiting = waits.held.len() + waits.unslotted;
            let in_air = (tally.sending as usize).saturating_sub(waiting);
            // The mean render and tail of a sample of the jobs left (a night's jobs are
            // mostly alike); the tail sets the night's last results.
            let sample: Vec<&Survival> = left.iter().chain(&polled).take(SAMPLE).map(|id| curve_of(*id)).collect();
            let nothing = Survival::assumed(0.0);
            let typical = sample.first().copied().unwrap_or(&nothing);
            // Each render going: its curve, its age and the age it was last known going at.
            let rendering = polled.iter().map(|id| {
                let age = self.live(*id).accepted_at.map_or(0.0, |t| (now - t).as_secs_f64());
                let known = self.sched.known_going(*id).map_or(0.0, |d| d.as_secs_f64());
                (curve_of(*id), age, known)
            });
            let sending = waits.held.iter().map(|wait| -wait).chain(std::iter::repeat_n(0.0, in_air));
            let going: Vec<(&Survival, f64, f64)> = rendering.chain(sending.map(|age| (typical, age, 0.0))).collect();
            let mean = |f: fn(&Survival) -> f64| {
                if sample.is_empty() { 0.0 } else { sample.iter().map(|c| f(c)).sum::<f64>() / sample.len() as f64 }
            };
            let (mut failed, mut settled) = (0u64, 0u64);
            for j in &self.ctx.plan.jobs {
                if j.provider != *p {
                    continue;
                }
                match self.state.jobs.get(&j.key).map(|s| &s.phase) {
                    Some(Phase::Failed { .. }) => (failed, settled) = (failed + 1, settled + 1),
                    Some(Phase::Done) => settled += 1,
                    _ => {}
                }
            }
            let to_submit = (left.len() + tally.queued as usize + waits.unslotted) as u64;
            lanes.push(LaneWork {
                to_submit,
                in_flight: going.iter().map(|(c, age, known)| Going::of(c, *age, *known, TAIL_QUANTILE)).collect(),
                cap: u64::from(lane.limits.max_in_flight),
                pace_per_sec: lane.eta_pace_per_minute() / 60.0 / scale.max(1e-9),
                render_secs: mean(Survival::mean),
                tail_secs: mean(|c| c.quantile_past(0.0, TAIL_QUANTILE)),
                next_send_secs: waits.next,
                sends_end_secs: lane.burst_end_secs(now, to_submit),
                // The night's last results: the last of the renders going to end.
                last_end_secs: (to_submit == 0).then(|| eta::expected_last(going.iter().copied())),
                failed_share: failed as f64 / settled.max(1) as f64,
            });
            let w = lanes.last().expect("just pushed");
            tracing::debug!(provider = %p, w.to_submit, in_flight = w.in_flight.len(), w.pace_per_sec, w.render_secs,
                w.tail_secs, w.next_send_secs, ?w.sends_end_secs, ?w.last_end_secs, secs = eta::lane_secs(w), "the ETA of a lane");
        }
        eta::estimate(&lanes)
    }

    fn render_key(&self, id: JobId) -> RenderKey {
        let j = self.job(id);
        (j.model.id, j.resolution, j.duration)
    }

    /// The render-time curve of each kind of render among `jobs`, in real seconds:
    /// learnt from the renders ended and the `going` ones of that kind (see
    /// [`Survival`]); before any ended, the mean learnt for the model at another size,
    /// else the catalog's typical render.
    fn render_curves(&self, jobs: impl Iterator<Item = JobId>, going: &[JobId]) -> HashMap<RenderKey, Survival> {
        let renders = &self.sched.renders;
        let mut curves = HashMap::new();
        for id in jobs.chain(going.iter().copied()) {
            let key = self.render_key(id);
            if curves.contains_key(&key) {
                continue;
            }
            let learnt = renders.get(&key).and_then(|s| {
                let ages: Vec<f64> = going
                    .iter()
                    .filter(|g| self.render_key(**g) == key)
                    .filter_map(|g| self.sched.known_going(*g))
                    .map(|d| d.as_secs_f64())
                    .collect();
                Survival::learn(s.sorted(), &ages, s.kept_share())
            });
            let curve = learnt.unwrap_or_else(|| {
                let j = self.job(id);
                let secs = renders.mean(&key).map_or_else(
                    || j.model.typical_render_secs_for(j.duration) * self.ctx.timing.time_scale,
                    |d| d.as_secs_f64(),
                );
                Survival::assumed(secs)
            });
            curves.insert(key, curve);
        }
        curves
    }
}
