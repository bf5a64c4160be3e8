//! Polls: which jobs are due (batched as the protocol allows), and what each answer
//! records: clips seen, failures, deadlines, the quickest render seen.

use super::*;

impl Dispatcher<'_> {
    pub(super) fn start_polling(&mut self, key: &str, fresh: bool) {
        let provider = self.ctx.job(key).provider;
        *self.in_flight.entry(provider).or_default() += 1;
        self.polling.entry(provider).or_default().insert(self.ctx.index[key]);
        let job = self.ctx.job(key);
        let first = match (fresh, self.fastest.get(&(job.model.id, job.duration))) {
            (false, _) => Duration::ZERO,
            (true, Some(seen)) => seen.mul_f64(0.9),
            (true, None) => {
                Duration::from_secs_f64(job.model.first_poll_secs(job.duration) * self.ctx.timing.time_scale)
            }
        };
        let poll_start = self.ctx.timing.poll_start;
        let l = self.live_mut(key);
        l.fresh = fresh;
        l.accepted_at = Some(Instant::now());
        l.next_poll = Some(Instant::now() + first);
        l.poll_interval = poll_start;
        l.results_complete = false;
    }

    pub(super) fn due_batch(&self, p: Provider, now: Instant) -> Vec<(String, crate::provider::RemoteTask, u32)> {
        let max = self.ctx.clients[&p].max_poll_batch();
        let mut due: Vec<(Instant, &String)> = Vec::new();
        for index in self.polling.get(&p).into_iter().flatten() {
            let key = &self.ctx.plan.jobs[*index].key;
            let l = &self.live[key];
            if l.busy || l.results_complete {
                continue;
            }
            // Jobs due soon ride along with jobs due now: one request serves both.
            if let Some(t) = l.next_poll
                && t <= now + l.poll_interval / 4
            {
                due.push((t, key));
            }
        }
        if !due.iter().any(|(t, _)| *t <= now) {
            return Vec::new();
        }
        due.sort();
        due.into_iter()
            .take(max)
            .filter_map(|(_, k)| {
                let js = self.state.jobs.get(k)?;
                Some((k.clone(), js.task.clone()?, self.ctx.job(k).number_results))
            })
            .collect()
    }

    pub(super) fn polled(
        &mut self,
        p: Provider,
        keys: Vec<String>,
        result: Result<Vec<PollOutcome>, ProviderError>,
    ) -> std::io::Result<()> {
        if let Some(n) = self.polls_in_flight.get_mut(&p) {
            *n = n.saturating_sub(1);
        }
        for k in &keys {
            self.live_mut(k).busy = false;
        }
        let outcomes = match result {
            Ok(o) => o,
            Err(e) => {
                self.unreachable(p, &e);
                if e.class == ErrorClass::Auth {
                    self.key_refused(p, &format!("{e} (while polling)"));
                }
                let auth = e.class == ErrorClass::Auth;
                for k in &keys {
                    let l = self.live_mut(k);
                    if auth {
                        // Nothing more can be learned now; a rerun with the right key resumes.
                        l.results_complete = true;
                        l.next_poll = None;
                    } else {
                        l.next_poll = Some(Instant::now() + l.poll_interval);
                    }
                }
                if auth {
                    for _ in &keys {
                        if let Some(n) = self.in_flight.get_mut(&p) {
                            *n = n.saturating_sub(1);
                        }
                    }
                }
                return Ok(());
            }
        };
        for (key, outcome) in keys.iter().zip(outcomes) {
            match outcome {
                PollOutcome::Pending { clips, .. } => {
                    self.record_clips(key, clips)?;
                    let timing = &self.ctx.timing;
                    let (cap, deadline) = (timing.poll_cap, timing.deadline);
                    let job = self.ctx.job(key);
                    let typical =
                        Duration::from_secs_f64(job.model.typical_render_secs_for(job.duration) * timing.time_scale);
                    let l = self.live_mut(key);
                    if l.accepted_at.is_some_and(|t| t.elapsed() > deadline) {
                        let message = format!(
                            "no result within {:?}; the remote task is kept and a later run collects it",
                            deadline
                        );
                        self.finish_polling(key);
                        self.failed(key, None, FailClass::TimedOut, message)?;
                        continue;
                    }
                    l.next_poll = Some(Instant::now() + l.poll_interval);
                    // Polls stay close while a render may well be ending (each second a
                    // finished job waits holds its slot); past a typical render they space out.
                    if l.accepted_at.is_some_and(|t| t.elapsed() >= typical) {
                        l.poll_interval = (l.poll_interval.mul_f64(1.5)).min(cap);
                    }
                }
                PollOutcome::Done { clips } => {
                    self.record_clips(key, clips)?;
                    self.learn_render_time(key);
                    self.finish_polling(key);
                }
                PollOutcome::Failed(e) => {
                    self.finish_polling(key);
                    self.failed(key, None, (&e.class).into(), e.to_string())?;
                }
                PollOutcome::PartlyFailed { clips, error } => {
                    // The finished clips are billed: collect them; the rest failed.
                    self.record_clips(key, clips)?;
                    self.finish_polling(key);
                    let js = &self.state.jobs[key];
                    let without: Vec<u32> = self
                        .ctx
                        .job(key)
                        .variants
                        .iter()
                        .copied()
                        .filter(|v| js.clips.get(v).is_none_or(|c| c.clip.is_none()))
                        .collect();
                    for v in without {
                        self.failed(key, Some(v), (&error.class).into(), error.to_string())?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Remembers how long a fresh job took from acceptance to its results (an upper
    /// bound of the render: polls are spaced).
    pub(super) fn learn_render_time(&mut self, key: &str) {
        let job = self.ctx.job(key);
        let slot = (job.model.id, job.duration);
        let l = &self.live[key];
        if let (true, Some(at)) = (l.fresh, l.accepted_at) {
            let took = at.elapsed();
            let e = self.fastest.entry(slot).or_insert(took);
            *e = (*e).min(took);
        }
    }

    pub(super) fn finish_polling(&mut self, key: &str) {
        let p = self.ctx.job(key).provider;
        let l = self.live_mut(key);
        if !l.results_complete {
            l.results_complete = true;
            l.next_poll = None;
            if let Some(n) = self.in_flight.get_mut(&p) {
                *n = n.saturating_sub(1);
            }
        }
    }

    pub(super) fn record_clips(&mut self, key: &str, clips: Vec<Clip>) -> std::io::Result<()> {
        let variants = self.ctx.job(key).variants.clone();
        for clip in clips {
            let js = &self.state.jobs[key];
            let Some(v) = js.variant_for(&clip, &variants) else { continue };
            if js.clips.get(&v).and_then(|c| c.clip.as_ref()).is_some_and(|c| c.remote_id == clip.remote_id) {
                continue;
            }
            self.append(Record::Clip { key: key.into(), variant: v, clip, at: journal::now() })?;
        }
        Ok(())
    }
}
