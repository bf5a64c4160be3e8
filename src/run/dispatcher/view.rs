//! What the run shows: the report (rewritten as records land), progress and the
//! outcome.

use super::*;

impl Dispatcher<'_> {
    pub(super) fn refresh_report(&mut self, force: bool) -> std::io::Result<()> {
        if !(force || (self.report_dirty && self.last_report.elapsed() >= self.report_every)) {
            return Ok(());
        }
        let started = Instant::now();
        let rows = crate::run::report::rows(&self.ctx.plan, &self.state);
        // The report is derived from the journal (`shotlist report` rebuilds it): a
        // failure to write it is told, not fatal.
        if let Err(e) = crate::run::report::write(&self.ctx.out.join("report.csv"), &rows) {
            self.note(&format!("cannot write report.csv: {e}"));
        }
        self.report_dirty = false;
        self.last_report = Instant::now();
        // A plan of many thousand jobs makes a large report: rewrite it at most 5 % of the time.
        self.report_every = REPORT_EVERY.max(started.elapsed() * 20);
        Ok(())
    }

    pub(super) fn snapshot(&self) -> crate::run::progress::Snapshot {
        let mut s = crate::run::progress::Snapshot { budget_usd: self.ctx.budget_usd, ..Default::default() };
        for job in &self.ctx.plan.jobs {
            s.clips_total += u64::from(job.number_results);
            match job.estimated_cost_usd {
                Some(usd) => s.estimate_usd += usd,
                None => s.unpriced_clips += u64::from(job.number_results),
            }
            let js = self.state.jobs.get(&job.key);
            for v in &job.variants {
                match crate::run::report::clip_status(js, *v) {
                    "done" => s.clips_done += 1,
                    "failed" => s.failed += 1,
                    "in_doubt" => s.in_doubt += 1,
                    _ => {}
                }
            }
            if let Some(js) = js {
                s.spent_usd += js.clips.values().filter_map(|c| c.clip.as_ref().and_then(|c| c.cost_usd)).sum::<f64>();
            }
        }
        for p in &self.providers {
            let cooling = self.ctx.lanes[p].cooling();
            s.lanes.push((p.name().to_owned(), *self.in_flight.get(p).unwrap_or(&0), cooling));
        }
        s.eta = self.eta_now();
        s
    }

    pub(super) fn outcome(&self) -> Outcome {
        if self.stopping {
            return Outcome::Interrupted;
        }
        if let Some(why) = &self.disk_halt {
            return Outcome::Halted(why.clone());
        }
        if let Some(why) = &self.run_halt {
            return Outcome::Halted(why.clone());
        }
        if self.budget_halt {
            return Outcome::Halted("budget reached".into());
        }
        if let Some((p, why)) = self.halted.iter().next() {
            return Outcome::Halted(format!("{p}: {why}"));
        }
        let unfinished = self.ctx.plan.jobs.iter().any(|job| {
            let js = self.state.jobs.get(&job.key);
            job.variants.iter().any(|v| crate::run::report::clip_status(js, *v) != "done")
        });
        if unfinished { Outcome::Incomplete } else { Outcome::AllDone }
    }
}
