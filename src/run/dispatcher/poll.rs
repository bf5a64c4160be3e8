//! Polls: which jobs are due (batched as the protocol allows), and what each answer
//! records: clips seen, failures, deadlines, render times (the schedule itself is
//! `run::schedule`).

use super::*;

impl Dispatcher<'_> {
    pub(super) fn start_polling(&mut self, key: &str, fresh: bool) {
        let provider = self.ctx.job(key).provider;
        *self.in_flight.entry(provider).or_default() += 1;
        let index = self.ctx.index[key];
        self.polling.entry(provider).or_default().insert(index);
        let job = self.ctx.job(key);
        let now = Instant::now();
        let due = self.sched.start(index, (job.model.id, job.resolution, job.duration), now, fresh);
        let l = self.live_mut(key);
        l.fresh = fresh;
        l.accepted_at = Some(now);
        l.next_poll = Some(due);
        l.results_complete = false;
    }

    /// The next poll request of a provider, as the schedule picks it (marked sent).
    pub(super) fn due_batch(&mut self, p: Provider, now: Instant) -> Vec<(String, crate::provider::RemoteTask, u32)> {
        let ctx = self.ctx;
        let candidates: Vec<usize> = self
            .polling
            .get(&p)
            .into_iter()
            .flatten()
            .copied()
            .filter(|i| {
                let l = &self.live[&ctx.plan.jobs[*i].key];
                !l.busy && !l.results_complete
            })
            .collect();
        let cap = ctx.lanes[&p].limits.max_in_flight;
        let to_send = self.submit_queue.get(&p).is_some_and(|q| !q.is_empty()) && self.halt.is_none();
        let full = to_send && *self.in_flight.get(&p).unwrap_or(&0) >= cap;
        let pressure = !to_send || full;
        let view = super::super::schedule::LaneView { batch: ctx.clients[&p].max_poll_batch(), pressure, full };
        let picked = self.sched.next_batch(p as u8, view, &candidates, now);
        let mut batch = Vec::with_capacity(picked.len());
        for i in picked {
            let k = &ctx.plan.jobs[i].key;
            let Some(task) = self.state.jobs.get(k).and_then(|js| js.task.clone()) else { continue };
            self.sched.sent(i, now);
            batch.push((k.clone(), task, ctx.job(k).number_results));
        }
        batch
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
                    let next = if auth { None } else { self.sched.retry(self.ctx.index[k.as_str()], Instant::now()) };
                    let l = self.live_mut(k);
                    if auth {
                        // Nothing more can be learned now; a rerun with the right key resumes.
                        l.results_complete = true;
                        l.next_poll = None;
                    } else {
                        l.next_poll = next;
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
                    let deadline = self.ctx.timing.deadline;
                    let next = self.sched.pending(self.ctx.index[key.as_str()], Instant::now());
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
                    l.next_poll = next;
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

    /// Teaches the schedule this job's render time (between its last pending and
    /// its first done answer; a job resumed from an earlier run teaches nothing).
    pub(super) fn learn_render_time(&mut self, key: &str) {
        self.sched.done(self.ctx.index[key], Instant::now());
    }

    pub(super) fn finish_polling(&mut self, key: &str) {
        let p = self.ctx.job(key).provider;
        self.sched.forget(self.ctx.index[key]);
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
