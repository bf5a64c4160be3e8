//! Polls: which jobs are due (batched as the protocol allows), and what each answer
//! records: clips seen, failures, deadlines, render times (the schedule itself is
//! `run::schedule`).

use super::*;

impl Dispatcher<'_> {
    pub(super) fn start_polling(&mut self, id: JobId, fresh: bool) {
        let job = self.job(id);
        self.set_activity(id, Activity::Awaiting);
        self.polling.entry(job.provider).or_default().insert(id);
        let now = Instant::now();
        let due = self.sched.start(id, (job.model.id, job.resolution, job.duration), now, fresh);
        let l = self.live_mut(id);
        l.fresh = fresh;
        l.accepted_at = Some(now);
        l.next_poll = Some(due);
    }

    /// The next poll request of a provider, as the schedule picks it (marked sent).
    pub(super) fn due_batch(&mut self, p: Provider, now: Instant) -> Vec<(JobId, crate::provider::RemoteTask, u32)> {
        let ctx = self.ctx;
        let candidates: Vec<JobId> = self
            .polling
            .get(&p)
            .into_iter()
            .flatten()
            .copied()
            .filter(|id| self.activity(*id) == Activity::Awaiting)
            .collect();
        let cap = ctx.lanes[&p].limits.max_in_flight;
        let to_send = self.submit_queue.get(&p).is_some_and(|q| !q.is_empty()) && self.halt.is_none();
        // A slot freed while the lane's window holds its sends back is of no use yet.
        let full = to_send && self.tally(p).in_flight() >= cap && !ctx.lanes[&p].window_bound(now);
        let pressure = !to_send || full;
        let view = super::super::schedule::LaneView { batch: ctx.clients[&p].max_poll_batch(), pressure, full };
        let picked = self.sched.next_batch(p as u8, view, &candidates, now);
        let mut batch = Vec::with_capacity(picked.len());
        for id in picked {
            let Some(task) = self.js(id).and_then(|js| js.task.clone()) else { continue };
            self.sched.sent(id, now);
            batch.push((id, task, ctx.job(id).number_results));
        }
        batch
    }

    pub(super) fn polled(
        &mut self,
        p: Provider,
        ids: Vec<JobId>,
        result: Result<Vec<PollOutcome>, ProviderError>,
    ) -> std::io::Result<()> {
        self.set_poll_request(p, false);
        for id in &ids {
            self.set_activity(*id, Activity::Awaiting);
        }
        let outcomes = match result {
            Ok(o) => o,
            Err(e) => {
                self.unreachable(p, &e);
                if e.class == ErrorClass::Auth {
                    self.key_refused(p, &format!("{e} (while polling)"));
                }
                let auth = e.class == ErrorClass::Auth;
                for id in &ids {
                    let next = if auth { None } else { self.sched.retry(*id, Instant::now()) };
                    if auth {
                        // Nothing more can be learned now; a rerun with the right key resumes.
                        self.set_activity(*id, Activity::Idle);
                    }
                    self.live_mut(*id).next_poll = next;
                }
                return Ok(());
            }
        };
        for (id, outcome) in ids.into_iter().zip(outcomes) {
            match outcome {
                PollOutcome::Pending { clips, .. } => {
                    self.record_clips(id, clips)?;
                    let deadline = self.ctx.timing.deadline;
                    let next = self.sched.pending(id, Instant::now());
                    let l = self.live_mut(id);
                    if l.accepted_at.is_some_and(|t| t.elapsed() > deadline) {
                        let message = format!(
                            "no result within {:?}; the remote task is kept and a later run collects it",
                            deadline
                        );
                        self.finish_polling(id);
                        self.failed(id, None, FailClass::TimedOut, message)?;
                        continue;
                    }
                    l.next_poll = next;
                }
                PollOutcome::Done { clips } => {
                    self.record_clips(id, clips)?;
                    self.learn_render_time(id);
                    self.finish_polling(id);
                }
                PollOutcome::Failed(e) => {
                    self.finish_polling(id);
                    self.failed(id, None, (&e.class).into(), e.to_string())?;
                }
                PollOutcome::PartlyFailed { clips, error } => {
                    // The finished clips are billed: collect them; the rest failed.
                    self.record_clips(id, clips)?;
                    self.finish_polling(id);
                    let js = self.js(id).expect("accepted: journaled");
                    let without: Vec<u32> = self
                        .job(id)
                        .variants
                        .iter()
                        .copied()
                        .filter(|v| js.clips.get(v).is_none_or(|c| c.clip.is_none()))
                        .collect();
                    for v in without {
                        self.failed(id, Some(v), (&error.class).into(), error.to_string())?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Teaches the schedule this job's render time (between its last pending and
    /// its first done answer; a job resumed from an earlier run teaches nothing).
    pub(super) fn learn_render_time(&mut self, id: JobId) {
        self.sched.done(id, Instant::now());
    }

    pub(super) fn finish_polling(&mut self, id: JobId) {
        self.sched.forget(id);
        if self.activity(id).polling() {
            self.set_activity(id, Activity::Idle);
            self.live_mut(id).next_poll = None;
        }
    }

    pub(super) fn record_clips(&mut self, id: JobId, clips: Vec<Clip>) -> std::io::Result<()> {
        let job = self.job(id);
        for clip in clips {
            let js = self.js(id).expect("accepted: journaled");
            let Some(v) = js.variant_for(&clip, &job.variants) else { continue };
            if js.clips.get(&v).and_then(|c| c.clip.as_ref()).is_some_and(|c| c.remote_id == clip.remote_id) {
                continue;
            }
            self.append(Record::Clip { key: job.key.clone(), variant: v, clip, at: journal::now() })?;
            self.to_fetch.insert(id);
        }
        Ok(())
    }
}
