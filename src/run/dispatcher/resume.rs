//! Resuming: what a previous run left in the journal becomes this run's work
//! (unanswered intents, jobs to poll again, clips to fetch again).

use super::*;

impl Dispatcher<'_> {
    /// Turns what a previous run left into work: unanswered intents, jobs to poll
    /// again, clips to download again (or whose file no longer matches its hash).
    pub(super) fn resume(&mut self) -> std::io::Result<()> {
        for id in self.ctx.plan.ids() {
            let Some(js) = self.js(id) else { continue };
            // Runners sharing a campaign: another's live jobs are its own; a dead
            // one's open jobs are taken over (its clips on disk are in its folder).
            match self.journal.holder(&self.job(id).key) {
                Holder::Mine => {}
                Holder::Live(_) => {
                    self.elsewhere(id);
                    continue;
                }
                Holder::Dead(_) if js.phase == Phase::Done || js.all_settled() => continue,
                Holder::Dead(_) => {
                    if !self.claimed(id)? {
                        continue;
                    }
                }
            }
            self.resume_job(id)?;
        }
        Ok(())
    }

    /// Resumes one job as the records left it.
    pub(super) fn resume_job(&mut self, id: JobId) -> std::io::Result<()> {
        {
            let Some(js) = self.js(id).cloned() else { return Ok(()) };
            let job = self.job(id);
            let key = job.key.as_str();
            match &js.phase {
                Phase::Submitting { attempt, .. } if !self.idempotent(id) => {
                    if self.ctx.resubmit_in_doubt {
                        self.live_mut(id).second_chance = true; // A fresh attempt, as the user asked.
                        return Ok(());
                    }
                    let message = "the previous run stopped after sending this submit and before its answer; \
                                   the task may exist and be billed (rerun with --resubmit-in-doubt to send it again)";
                    self.append(Record::InDoubt {
                        key: key.to_owned(),
                        attempt: *attempt,
                        message: message.into(),
                        at: journal::now(),
                    })?;
                }
                Phase::Running => self.start_polling(id, false),
                // Runware: the same taskUUID again, which cannot bill twice; others only when asked.
                Phase::InDoubt { .. } => {
                    self.live_mut(id).second_chance = self.idempotent(id) || self.ctx.resubmit_in_doubt;
                }
                // A generation that failed on the provider (not billed) or a submit never
                // accepted is tried once more. Refused input, blocked content and lost
                // (`gone`) results are not: the first two would fail again, the last was paid.
                // Nor is a job with any clip seen, on disk or not: its task was billed.
                Phase::Failed(f)
                    if matches!(f.class, FailClass::Failed | FailClass::Transient)
                        && js.clips.values().all(|c| c.clip.is_none()) =>
                {
                    self.live_mut(id).second_chance = true;
                }
                Phase::Failed(f) if f.class == FailClass::Download => {
                    // A failed download never resubmits; a later run tries the download again.
                    let j = self.state.job_mut(key);
                    for c in j.clips.values_mut() {
                        if c.clip.is_some() && c.file.is_none() {
                            c.failed = None;
                        }
                    }
                    j.phase = Phase::Running;
                }
                Phase::Failed(f) if f.class == FailClass::TimedOut && js.task.is_some() => {
                    // A local deadline is not a remote failure: collect it now.
                    self.state.job_mut(key).phase = Phase::Running;
                    self.start_polling(id, false);
                }
                Phase::Done => {
                    let mut missing = Vec::new();
                    for (v, c) in &js.clips {
                        if let Some(f) = &c.file {
                            let path = self.ctx.out.join(&f.file);
                            if crate::run::download::sha256_of(&path).ok().as_deref() != Some(&f.sha256) {
                                missing.push(*v);
                            }
                        }
                    }
                    if !missing.is_empty() {
                        self.note(&format!(
                            "{}: {} clip(s) missing or changed on disk; downloading again",
                            job.shot_id,
                            missing.len()
                        ));
                        let j = self.state.job_mut(key);
                        for v in missing {
                            if let Some(c) = j.clips.get_mut(&v) {
                                c.file = None;
                            }
                        }
                        j.phase = Phase::Running;
                    }
                }
                _ => {}
            }
            // Clips seen but not on disk (and not given up on) are fetched again.
            let js = self.js(id).expect("checked above");
            if js.has_clips_to_download() && matches!(js.phase, Phase::Running) {
                // Every variant seen (or failed): nothing more to poll for, only downloads.
                let complete = js.def.as_ref().is_some_and(|d| {
                    d.variants.iter().all(|v| js.clips.get(v).is_some_and(|c| c.clip.is_some() || c.failed.is_some()))
                });
                if complete {
                    // Ends the polling `start_polling` began above: a job left counted in
                    // flight here once filled the lane and stalled the run.
                    self.finish_polling(id);
                }
            }
            if self.js(id).is_some_and(|js| js.clips.values().any(|c| c.clip.is_some() && c.file.is_none())) {
                self.to_fetch.insert(id);
            }
        }
        Ok(())
    }
}
