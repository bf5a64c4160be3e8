//! Submits: which job may go next (lane cap, budget, tries, second chances), the
//! intent written just before the request, and what its answer means.

use super::*;

impl Dispatcher<'_> {
    /// What the out folder's campaign may be billed, at most: for every journaled
    /// job (earlier versions too: their takes were paid), the cost reported for each
    /// clip seen, else its price; and for a job that may still bill (being sent,
    /// accepted, in doubt) its worst case for the clips not yet seen or failed. Jobs
    /// admitted whose intent is not written yet count at their worst case too.
    pub(super) fn committed_usd(&self) -> f64 {
        let mut total = 0.0;
        for js in self.state.jobs.values() {
            // The state comes by key: a journaled job of this run's plan may be in the air.
            let in_air = self.ctx.id(&js.key).is_some_and(|id| self.activity(id).submitting());
            total += crate::run::budget::committed_usd(js, in_air);
        }
        for id in self.ctx.plan.ids() {
            if self.activity(id).submitting() && self.js(id).is_none_or(|j| j.def.is_none()) {
                total += self.job(id).worst_case_usd().unwrap_or(0.0);
            }
        }
        total
    }

    /// Under a budget, the shots whose jobs have no known price are not sent: the
    /// budget could not be kept. Says which, and how to price them.
    pub(super) fn unpriced_under_budget(&self) -> Option<String> {
        self.ctx.budget_usd?;
        let mut shots: Vec<&str> = Vec::new();
        for job in &self.ctx.plan.jobs {
            let js = self.state.jobs.get(&job.key);
            let done = job
                .variants
                .iter()
                .all(|v| crate::run::report::clip_status(js, *v) == crate::run::report::ClipStatus::Done);
            if job.worst_case_usd().is_none() && !done && !shots.contains(&job.shot_id.as_str()) {
                shots.push(&job.shot_id);
            }
        }
        if shots.is_empty() {
            return None;
        }
        let more = if shots.len() > 8 { format!(" and {} more", shots.len() - 8) } else { String::new() };
        Some(format!(
            "budget: {} shot(s) not sent, no known price: {}{more}; give their model, resolution and duration a price in the manifest's `prices:` list",
            shots.len(),
            shots[..shots.len().min(8)].join(", ")
        ))
    }

    /// Whether the job's provider honours our idempotency key (Runware `taskUUID`).
    pub(super) fn idempotent(&self, id: JobId) -> bool {
        crate::provider::capabilities(self.job(id).provider).idempotent_submit
    }

    /// Whether this job may be submitted now.
    pub(super) fn submittable(&self, id: JobId, now: Instant) -> bool {
        let l = self.live(id);
        !l.activity.busy() && l.not_before.is_none_or(|t| t <= now) && self.may_submit(id)
    }

    /// Whether this job is to be submitted (again) in this run at all. A job the
    /// journal left failed or in doubt gets one more send at most, decided at start:
    /// never a loop within a run, never a second payment for a lost result.
    pub(super) fn may_submit(&self, id: JobId) -> bool {
        let l = self.live(id);
        // A provider that honours our own idempotency key takes an unanswered submit again.
        let idempotent = self.idempotent(id);
        // Under a budget a job with no known price is never sent (DESIGN rule 6).
        if self.ctx.budget_usd.is_some() && self.job(id).worst_case_usd().is_none() {
            return false;
        }
        match self.js(id).map(|j| &j.phase) {
            None | Some(Phase::Pending) => l.submit_tries < SUBMIT_TRIES,
            // Runware: an unanswered intent is sent again with the same taskUUID.
            Some(Phase::Submitting { .. }) => (idempotent && l.submit_tries < SUBMIT_TRIES) || l.second_chance,
            Some(Phase::InDoubt { .. } | Phase::Failed { .. }) => l.second_chance,
            Some(Phase::Running | Phase::Done) => false,
        }
    }

    /// Starts submits from the provider's queue, in plan order, until the lane is full
    /// or the budget is reached; drops from the queue the idle jobs it may not send.
    pub(super) fn submit_from_queue(&mut self, p: Provider, cap: u32, now: Instant) -> std::io::Result<()> {
        let ctx = self.ctx;
        let mut queue = self.submit_queue.remove(&p).unwrap_or_default();
        // Computed once a pass; each job started here adds its estimate.
        let mut committed = if ctx.budget_usd.is_some() { self.committed_usd() } else { 0.0 };
        let (mut kept, mut seen, mut result) = (0, 0, Ok(()));
        while seen < queue.len()
            && self.tally(p).in_flight() < cap
            && ctx.lanes[&p].wants_submit()
            && self.account_full.get(&p).is_none_or(|t| *t <= now)
        {
            let id = queue[seen];
            seen += 1;
            if !self.may_submit(id) && !self.activity(id).busy() {
                continue; // Dropped: accepted, settled, or out of tries for this run.
            }
            queue[kept] = id;
            kept += 1;
            if !self.submittable(id, now) {
                continue;
            }
            if let Some(budget) = ctx.budget_usd {
                // Priced: `may_submit` keeps unpriced jobs out under a budget.
                let worst = ctx.job(id).worst_case_usd().unwrap_or(f64::INFINITY);
                if !crate::run::budget::fits(committed, worst, budget) {
                    self.budget_reached(committed, worst, "");
                    break;
                }
                committed += worst;
            }
            result = self.spawn_submit(id);
            if result.is_err() {
                break;
            }
        }
        queue.drain(kept..seen);
        self.submit_queue.insert(p, queue);
        result
    }

    /// The next job (up to `worst`) does not fit the budget on top of `committed`
    /// (`whose`: by whom, when not this runner alone): no new submissions.
    pub(super) fn budget_reached(&mut self, committed: f64, worst: f64, whose: &str) {
        let Some(budget) = self.ctx.budget_usd else { return };
        let left = (budget - committed).max(0.0);
        let by = if whose.is_empty() { String::new() } else { format!(" {whose}") };
        let why = format!(
            "budget reached: ${committed:.2} committed{by} of ${budget:.2}; the next job (up to ${worst:.2}) does not fit the ${left:.2} left"
        );
        if self.raise(Halt::Budget(why)) {
            self.note(&format!(
                "Budget reached: ${committed:.2} committed{by} of ${budget:.2}, next job up to ${worst:.2}. No new submissions; finishing jobs in flight."
            ));
        }
    }

    pub(super) fn spawn_submit(&mut self, id: JobId) -> std::io::Result<()> {
        let job = self.job(id);
        let shot = &self.ctx.shots[job.shot_index];
        let request = match SubmitRequest::for_job(job, shot, uuid::Uuid::nil()) {
            Ok(r) => r,
            Err(e) => {
                let message = format!("cannot read a frame of {}: {e}", job.shot_id);
                return self.failed(id, None, FailClass::Rejected, message);
            }
        };
        // Another runner on the campaign may hold the job (a database store).
        if !self.claimed_within(id, true)? {
            return Ok(());
        }
        self.live_mut(id).second_chance = false;
        self.set_activity(id, Activity::Queued);
        let p = job.provider;
        worker::submit(
            self.ctx.paces.get(&p).cloned(),
            self.ctx.lanes[&p].clone(),
            self.ctx.clients[&p].clone(),
            id,
            request,
            self.events_tx.clone(),
        );
        Ok(())
    }

    /// A submit not accepted (or called off): the job no longer counts as in flight.
    pub(super) fn submit_done(&mut self, id: JobId) {
        self.set_activity(id, Activity::Idle);
    }

    /// Writes the intent (fsynced) just before the request goes, or calls it off.
    pub(super) fn intent(&mut self, id: JobId) -> std::io::Result<Option<(u32, uuid::Uuid)>> {
        let job = self.job(id);
        let key = job.key.as_str();
        if self.halt.as_ref().is_some_and(|h| !h.lets_admitted_go()) || self.halted.contains_key(&job.provider) {
            return Ok(None);
        }
        let js = self.state.jobs.get(key);
        if js.is_none_or(|j| j.def.is_none()) {
            let def = JobDef::of(job, self.state.version_for(&job.shot_id, &job.render_key));
            self.append(Record::Job { key: key.to_owned(), def })?;
        }
        let js = &self.state.jobs[key];
        // Runware: the same taskUUID until it is accepted. A resend
        // answered 5xx or 429 says nothing of an earlier send of it that a kill left
        // unanswered (which may have been billed); only the same taskUUID is safe.
        // Idempotent providers: the same key until it is accepted. A resend answered
        // 5xx or 429 says nothing of an earlier send of it that a kill left unanswered
        // (which may have been billed); only the same key is safe. That holds after a
        // failed task is given another chance too: its new key is kept until accepted.
        if self.idempotent(id)
            && let Some(task_uuid) = js.unaccepted_task_uuid()
        {
            let attempt = js.attempts;
            match js.phase {
                Phase::Submitting { .. } | Phase::InDoubt { .. } => return Ok(Some((attempt, task_uuid))),
                _ => {
                    // Pending or failed before this key was accepted: the intent is written again.
                    let record = Record::Intent { key: key.to_owned(), attempt, task_uuid, at: journal::now() };
                    return Ok(self.append_intent(id, record)?.then_some((attempt, task_uuid)));
                }
            }
        }
        let attempt = js.attempts + 1;
        let task_uuid = task_uuid(self.state.run_id, key, attempt);
        let record = Record::Intent { key: key.to_owned(), attempt, task_uuid, at: journal::now() };
        Ok(self.append_intent(id, record)?.then_some((attempt, task_uuid)))
    }

    pub(super) fn submitted(
        &mut self,
        id: JobId,
        attempt: u32,
        result: Result<Accepted, ProviderError>,
    ) -> std::io::Result<()> {
        let job = self.job(id);
        let (p, key) = (job.provider, job.key.as_str());
        match result {
            Ok(acc) => {
                let (task, replayed) = (acc.task, acc.replayed);
                self.append(Record::Accepted { key: key.into(), attempt, task, replayed, at: journal::now() })?;
                // Sending → Awaiting: it stays in flight.
                self.start_polling(id, true);
            }
            Err(e) => {
                self.submit_done(id);
                let message = e.to_string();
                let class = FailClass::from(&e.class);
                match &e.class {
                    ErrorClass::InDoubt if self.idempotent(id) => {
                        // The intent stands; the same taskUUID is sent again (a conflict then means accepted).
                        self.retry_later(id, &e);
                        if self.live(id).submit_tries >= SUBMIT_TRIES {
                            let message = format!(
                                "no clear answer after {SUBMIT_TRIES} sends ({message}); the next run sends the same taskUUID again, which cannot bill twice"
                            );
                            self.append(Record::InDoubt { key: key.into(), attempt, message, at: journal::now() })?;
                        }
                    }
                    ErrorClass::InDoubt => {
                        self.note(&format!(
                            "{}: submit in doubt ({message}); it will not be sent again without --resubmit-in-doubt",
                            job.shot_id
                        ));
                        self.append(Record::InDoubt { key: key.into(), attempt, message, at: journal::now() })?;
                    }
                    ErrorClass::RateLimited { .. } | ErrorClass::Transient => {
                        self.unreachable(p, &e);
                        let tries = self.live(id).submit_tries + 1;
                        let retryable = tries < SUBMIT_TRIES;
                        self.not_accepted(id, attempt, class, &message, retryable)?;
                        if retryable {
                            self.retry_later(id, &e);
                        } else {
                            self.failed(id, None, class, message)?;
                        }
                    }
                    // Nothing was accepted and the job stays pending; the provider (no
                    // credits) or the whole run (a refused key) stops.
                    ErrorClass::Billing | ErrorClass::Auth => {
                        let auth = e.class == ErrorClass::Auth;
                        self.not_accepted(id, attempt, class, &message, true)?;
                        if auth {
                            self.key_refused(p, &message);
                        } else if !self.halted.contains_key(&p) {
                            self.note(&format!(
                                "{p} halted: {message}. Its remaining jobs stay pending; add credits and run again."
                            ));
                            self.halted.insert(p, message);
                        }
                    }
                    ErrorClass::Rejected | ErrorClass::ContentBlocked | ErrorClass::Failed | ErrorClass::Gone => {
                        self.failed(id, None, class, message)?;
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn retry_later(&mut self, id: JobId, e: &ProviderError) {
        let scale = self.ctx.timing.time_scale;
        let l = self.live_mut(id);
        l.submit_tries += 1;
        let backoff = Duration::from_secs_f64(2f64.powi(l.submit_tries.min(6) as i32) * scale);
        let wait = match e.class {
            // The lane's cooldown already holds everyone back; just queue again
            // (a rate limit, or the provider's queue full: Runware 503/504).
            _ if e.back_pressure().is_some() => Duration::ZERO,
            _ => backoff,
        };
        l.not_before = Some(Instant::now() + wait);
        self.retry_wakes.push(std::cmp::Reverse(Instant::now() + wait));
    }

    /// A provider refused the API key: the whole run halts (exit 3, naming the variable).
    pub(super) fn key_refused(&mut self, p: Provider, message: &str) {
        let var = crate::run::options::key_var(p);
        if self.raise(Halt::Auth(format!("{p} refused the key in {var}"))) {
            self.note(&format!("Run halted: {p} refused the API key in {var}: {message}"));
        }
    }
}
