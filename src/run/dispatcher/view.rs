//! What the run shows: the report (rewritten as records land), progress and the
//! outcome.

use super::*;
use crate::run::report::ClipStatus;

impl Dispatcher<'_> {
    pub(super) fn refresh_report(&mut self, force: bool) -> std::io::Result<()> {
        if !(force || (self.report_dirty && self.last_report.elapsed() >= self.report_every)) {
            return Ok(());
        }
        let started = Instant::now();
        // The report is derived from the journal (`shotlist report` rebuilds it): a
        // failure to write it is told, not fatal. Written row by row, never all held.
        if let Err(e) = crate::run::report::write_plan(
            &self.ctx.out.join("report.csv"),
            &self.ctx.plan,
            &self.state,
            &|key, variant| self.journal.machine_of(key, variant),
        ) {
            self.note(&format!("cannot write report.csv: {e}"));
        }
        self.report_dirty = false;
        self.last_report = Instant::now();
        // A plan of many thousand jobs makes a large report: rewrite it at most 5 % of the time.
        self.report_every = REPORT_EVERY.max(started.elapsed() * 20);
        Ok(())
    }

    pub(super) fn snapshot(&mut self) -> crate::run::progress::Snapshot {
        let mut s = crate::run::progress::Snapshot { budget_usd: self.ctx.budget_usd, ..Default::default() };
        let mut money: BTreeMap<Provider, crate::run::report::Money> = BTreeMap::new();
        for job in &self.ctx.plan.jobs {
            s.clips_total += u64::from(job.number_results);
            match job.estimated_cost_usd {
                Some(usd) => s.estimate_usd += usd,
                None => s.unpriced_clips += u64::from(job.number_results),
            }
            let js = self.state.jobs.get(&job.key);
            let m = money.entry(job.provider).or_default();
            for v in &job.variants {
                match crate::run::report::clip_status(js, *v) {
                    ClipStatus::Done => s.clips_done += 1,
                    ClipStatus::Failed => s.failed += 1,
                    ClipStatus::InDoubt => s.in_doubt += 1,
                    ClipStatus::Pending | ClipStatus::Running => {}
                }
                if let Some(cost) = crate::run::report::clip_cost(job, js, *v) {
                    m.add(cost);
                }
            }
        }
        for p in &self.providers {
            let m = money.remove(p).unwrap_or_default();
            s.spent_usd += m.reported_usd + m.list_usd;
            s.lanes.push(crate::run::progress::LaneView {
                name: p.name().to_owned(),
                in_flight: self.tally(*p).in_flight(),
                cooling: self.ctx.lanes[p].cooling(),
                money: m,
            });
        }
        // Failed and in-doubt clips are not waited for: they are not left to do.
        let settled = s.clips_done + s.failed + s.in_doubt;
        // The estimate (`run::eta`) is shown once a clip of this run gives it data.
        s.eta =
            self.progress.eta(s.clips_done, s.clips_total.saturating_sub(settled - s.clips_done)).and(self.eta_now());
        s
    }

    /// A provider that cannot be reached (refused connection, DNS, TLS) is named on
    /// screen at once, and again at most every 5 minutes while it lasts; before, only
    /// the journal said why nothing moved.
    pub(super) fn unreachable(&mut self, p: Provider, e: &ProviderError) {
        if !e.is_unreachable() {
            return;
        }
        let base = crate::run::options::base_var(p);
        let msg = format!(
            "{p} cannot be reached ({}). shotlist keeps retrying with backoff; a connection never made bills nothing, and jobs not sent stay pending. Check the network, or {base}.",
            e.message
        );
        self.progress.note_every(&format!("unreachable:{p}"), Duration::from_secs(300), &msg);
    }

    pub(super) fn outcome(&self) -> Outcome {
        let unfinished = self.ctx.plan.jobs.iter().any(|job| {
            let js = self.state.jobs.get(&job.key);
            job.variants.iter().any(|v| crate::run::report::clip_status(js, *v) != ClipStatus::Done)
        });
        // Every clip in: the night is done, whatever stopped new work meanwhile.
        if !unfinished {
            return Outcome::AllDone;
        }
        match &self.halt {
            Some(Halt::Interrupted) => return Outcome::Interrupted,
            Some(Halt::Budget(why) | Halt::Auth(why) | Halt::Disk(why)) => return Outcome::Halted(why.clone()),
            None => {}
        }
        if let Some((p, why)) = self.halted.iter().next() {
            return Outcome::Halted(format!("{p}: {why}"));
        }
        if let Some(why) = self.unpriced_under_budget() {
            return Outcome::Halted(why);
        }
        Outcome::Incomplete
    }
}
