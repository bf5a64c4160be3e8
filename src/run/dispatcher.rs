//! The dispatcher: the only owner of job state. It decides what to submit, poll
//! and download next (within each lane's cap, the budget and any halt), spawns
//! workers, and turns their events into journal records, written before they take
//! effect, then into state. It also rewrites the report and feeds progress.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::journal::{self, JobDef, Journal, Record};
use super::state::{Phase, RunState};
use super::worker::{self, Event};
use super::{Context, Outcome};
use crate::catalog::Provider;
use crate::provider::{Accepted, Clip, ErrorClass, PollOutcome, ProviderError, SubmitRequest, VideoApi};

/// How many times a submit refused for a passing reason (429, 5xx) is retried in one run.
const SUBMIT_TRIES: u32 = 12;
/// Poll requests in the air at once per provider.
const POLLS_IN_FLIGHT: usize = 4;
/// The report is rewritten at most this often (more rarely when writing it is slow).
const REPORT_EVERY: Duration = Duration::from_millis(500);

/// Run-local bookkeeping of a job (not journaled).
#[derive(Default)]
struct Live {
    not_before: Option<Instant>,
    submit_tries: u32,
    busy: bool,
    next_poll: Option<Instant>,
    poll_interval: Duration,
    accepted_at: Option<Instant>,
    results_complete: bool,
    downloading: HashSet<u32>,
    /// This run may send the job once more although the journal left it failed or
    /// in doubt (decided at start; spent by the first submit).
    second_chance: bool,
    /// Accepted in this run (its render time is then known from here).
    fresh: bool,
}

pub struct Dispatcher<'a> {
    ctx: &'a Context,
    state: RunState,
    journal: Journal,
    live: HashMap<String, Live>,
    /// Plan keys per provider, in plan order.
    order: BTreeMap<Provider, Vec<String>>,
    // The work sets below keep each pass proportional to the work in hand, not to the
    // plan (a pass over 10,000 jobs after every batch of events made CPU grow faster
    // than the plan).
    /// Per provider, plan indices of jobs this run may still submit, in plan order. A
    /// job leaves once it is idle and may not be submitted: that lasts for the run.
    submit_queue: BTreeMap<Provider, Vec<usize>>,
    /// Per provider, plan indices of jobs whose results are awaited.
    polling: BTreeMap<Provider, BTreeSet<usize>>,
    /// Plan indices of jobs that may have a clip seen and not yet on disk.
    to_fetch: BTreeSet<usize>,
    /// Downloads in the air.
    fetching: usize,
    /// How often the report may be rewritten (longer when writing it takes long).
    report_every: Duration,
    in_flight: HashMap<Provider, u32>,
    polls_in_flight: HashMap<Provider, usize>,
    downloads: Arc<tokio::sync::Semaphore>,
    events_tx: worker::Events,
    events: mpsc::UnboundedReceiver<Event>,
    halted: HashMap<Provider, String>,
    run_halt: Option<String>,
    budget_halt: bool,
    /// The out folder cannot be written: stop everything once workers return.
    disk_halt: Option<String>,
    stopping: bool,
    progress: super::progress::Progress,
    report_dirty: bool,
    last_report: Instant,
    /// The quickest render seen per model and duration in this run: the first poll
    /// of a new job waits about that long (fewer wasted polls, no idle slots).
    fastest: HashMap<(&'static str, u32), Duration>,
}

impl<'a> Dispatcher<'a> {
    pub fn new(ctx: &'a Context, state: RunState, journal: Journal) -> Self {
        let (events_tx, events) = mpsc::unbounded_channel();
        let mut order: BTreeMap<Provider, Vec<String>> = BTreeMap::new();
        let mut submit_queue: BTreeMap<Provider, Vec<usize>> = BTreeMap::new();
        let mut live = HashMap::new();
        for (i, job) in ctx.plan.jobs.iter().enumerate() {
            order.entry(job.provider).or_default().push(job.key.clone());
            submit_queue.entry(job.provider).or_default().push(i);
            live.insert(job.key.clone(), Live { poll_interval: ctx.timing.poll_start, ..Live::default() });
        }
        let total: u64 = ctx.plan.jobs.iter().map(|j| u64::from(j.number_results)).sum();
        Dispatcher {
            ctx,
            state,
            journal,
            live,
            order,
            submit_queue,
            polling: BTreeMap::new(),
            to_fetch: BTreeSet::new(),
            fetching: 0,
            report_every: REPORT_EVERY,
            in_flight: HashMap::new(),
            polls_in_flight: HashMap::new(),
            downloads: Arc::new(tokio::sync::Semaphore::new(4)),
            events_tx,
            events,
            halted: HashMap::new(),
            run_halt: None,
            budget_halt: false,
            disk_halt: None,
            stopping: false,
            progress: super::progress::Progress::new(total, ctx.quiet),
            report_dirty: true,
            last_report: Instant::now(),
            fastest: HashMap::new(),
        }
    }

    fn append(&mut self, record: Record) -> std::io::Result<()> {
        self.journal.append(&record)?;
        self.state.apply(&record);
        if let Record::Clip { key, .. } = &record {
            self.to_fetch.insert(self.ctx.index[key.as_str()]);
        }
        Ok(())
    }

    fn note(&self, msg: &str) {
        self.progress.note(msg);
    }

    /// Resumes what the journal left open, then runs until every job is settled
    /// (or the run stops), and says how it ended.
    pub async fn run(mut self) -> std::io::Result<(Outcome, RunState)> {
        self.resume()?;
        let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
        let mut last_progress = Instant::now() - Duration::from_secs(1);
        loop {
            self.schedule()?;
            self.refresh_report(false)?;
            if last_progress.elapsed() >= Duration::from_millis(200) {
                self.progress.update(&self.snapshot());
                last_progress = Instant::now();
            }
            if self.settled() {
                break;
            }
            let wake = self.next_wake();
            tokio::select! {
                Some(event) = self.events.recv() => {
                    self.handle(event)?;
                    // Take every event already waiting before the next (whole-plan) pass.
                    while let Ok(event) = self.events.try_recv() {
                        self.handle(event)?;
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {}
                _ = &mut ctrl_c => {
                    if self.stopping {
                        // Second Ctrl-C: out at once; every record written is whole.
                        self.journal.sync()?;
                        self.refresh_report(true)?;
                        return Ok((Outcome::Interrupted, self.state));
                    }
                    self.stopping = true;
                    self.note("Interrupted: no new submissions; waiting for jobs in flight (Ctrl-C again to quit now; the journal is consistent).");
                    ctrl_c.set(tokio::signal::ctrl_c());
                }
            }
        }
        self.journal.sync()?;
        self.refresh_report(true)?;
        self.progress.finish(&self.snapshot());
        let outcome = self.outcome();
        Ok((outcome, self.state))
    }

    /// Turns what a previous run left into work: unanswered intents, jobs to poll
    /// again, clips to download again (or whose file no longer matches its hash).
    fn resume(&mut self) -> std::io::Result<()> {
        let keys: Vec<String> = self.ctx.plan.jobs.iter().map(|j| j.key.clone()).collect();
        for key in keys {
            let Some(js) = self.state.jobs.get(&key).cloned() else { continue };
            let job = self.ctx.job(&key);
            match &js.phase {
                Phase::Submitting { attempt, .. } if job.provider != Provider::Runware => {
                    if self.ctx.resubmit_in_doubt {
                        self.live_mut(&key).second_chance = true; // A fresh attempt, as the user asked.
                        continue;
                    }
                    let message = "the previous run stopped after sending this submit and before its answer; \
                                   the task may exist and be billed (rerun with --resubmit-in-doubt to send it again)";
                    self.append(Record::InDoubt {
                        key: key.clone(),
                        attempt: *attempt,
                        message: message.into(),
                        at: journal::now(),
                    })?;
                }
                Phase::Running => self.start_polling(&key, false),
                // Runware: the same taskUUID again, which cannot bill twice; others only when asked.
                Phase::InDoubt { .. } => {
                    self.live_mut(&key).second_chance = job.provider == Provider::Runware || self.ctx.resubmit_in_doubt;
                }
                // A generation that failed on the provider (not billed) or a submit never
                // accepted is tried once more. Refused input, blocked content and lost
                // (`gone`) results are not: the first two would fail again, the last was paid.
                // Nor is a job with any clip seen, on disk or not: its task was billed.
                Phase::Failed { class, .. }
                    if (class == "failed" || class == "transient") && js.clips.values().all(|c| c.clip.is_none()) =>
                {
                    self.live_mut(&key).second_chance = true;
                }
                Phase::Failed { class, .. } if class == "download" => {
                    // A failed download never resubmits; a later run tries the download again.
                    let j = self.state.job_mut(&key);
                    for c in j.clips.values_mut() {
                        if c.clip.is_some() && c.file.is_none() {
                            c.failed = None;
                        }
                    }
                    j.phase = Phase::Running;
                    self.live_mut(&key).results_complete = true;
                }
                Phase::Failed { class, .. } if class == "timed_out" && js.task.is_some() => {
                    // A local deadline is not a remote failure: collect it now.
                    self.state.job_mut(&key).phase = Phase::Running;
                    self.start_polling(&key, false);
                }
                Phase::Done => {
                    let mut missing = Vec::new();
                    for (v, c) in &js.clips {
                        if let Some(f) = &c.file {
                            let path = self.ctx.out.join(&f.file);
                            if super::download::sha256_of(&path).ok().as_deref() != Some(&f.sha256) {
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
                        let j = self.state.job_mut(&key);
                        for v in missing {
                            if let Some(c) = j.clips.get_mut(&v) {
                                c.file = None;
                            }
                        }
                        j.phase = Phase::Running;
                        self.live_mut(&key).results_complete = true;
                    }
                }
                _ => {}
            }
            // Clips seen but not on disk (and not given up on) are fetched again.
            let js = &self.state.jobs[&key];
            if js.clips.values().any(|c| c.clip.is_some() && c.file.is_none() && c.failed.is_none())
                && matches!(js.phase, Phase::Running)
            {
                // Every variant seen (or failed): nothing more to poll for, only downloads.
                let complete = js.def.as_ref().is_some_and(|d| {
                    d.variants.iter().all(|v| js.clips.get(v).is_some_and(|c| c.clip.is_some() || c.failed.is_some()))
                });
                if complete {
                    // Ends the polling `start_polling` began above, and its count in flight:
                    // a count left behind here once filled the lane and stalled the run.
                    self.finish_polling(&key);
                }
            }
            if self.state.jobs[&key].clips.values().any(|c| c.clip.is_some() && c.file.is_none()) {
                self.to_fetch.insert(self.ctx.index[key.as_str()]);
            }
        }
        Ok(())
    }

    fn live_mut(&mut self, key: &str) -> &mut Live {
        self.live.entry(key.to_owned()).or_default()
    }

    fn start_polling(&mut self, key: &str, fresh: bool) {
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

    /// Money reported spent, plus estimates for jobs accepted but not yet priced.
    fn committed_usd(&self) -> f64 {
        let mut total = 0.0;
        for job in &self.ctx.plan.jobs {
            let js = self.state.jobs.get(&job.key);
            let busy = self.live.get(&job.key).is_some_and(|l| l.busy);
            let in_flight = busy
                || js.is_some_and(|j| {
                    matches!(j.phase, Phase::Running | Phase::Submitting { .. } | Phase::InDoubt { .. })
                });
            let reported: Vec<f64> = js
                .map(|j| j.clips.values().filter_map(|c| c.clip.as_ref().and_then(|c| c.cost_usd)).collect())
                .unwrap_or_default();
            total += reported.iter().sum::<f64>();
            let missing = (job.number_results as usize).saturating_sub(reported.len());
            if in_flight && missing > 0 {
                total += job.estimated_cost_usd.unwrap_or(0.0) / f64::from(job.number_results.max(1)) * missing as f64;
            }
        }
        total
    }

    /// Whether this job may be submitted now.
    fn submittable(&self, key: &str, now: Instant) -> bool {
        let l = &self.live[key];
        !l.busy && l.not_before.is_none_or(|t| t <= now) && self.may_submit(key)
    }

    /// Whether this job is to be submitted (again) in this run at all. A job the
    /// journal left failed or in doubt gets one more send at most, decided at start:
    /// never a loop within a run, never a second payment for a lost result.
    fn may_submit(&self, key: &str) -> bool {
        let l = &self.live[key];
        let runware = self.ctx.job(key).provider == Provider::Runware;
        match self.state.jobs.get(key).map(|j| &j.phase) {
            None | Some(Phase::Pending) => l.submit_tries < SUBMIT_TRIES,
            // Runware: an unanswered intent is sent again with the same taskUUID.
            Some(Phase::Submitting { .. }) => (runware && l.submit_tries < SUBMIT_TRIES) || l.second_chance,
            Some(Phase::InDoubt { .. } | Phase::Failed { .. }) => l.second_chance,
            Some(Phase::Running | Phase::Done) => false,
        }
    }

    fn schedule(&mut self) -> std::io::Result<()> {
        let now = Instant::now();
        let providers: Vec<Provider> = self.order.keys().copied().collect();
        for p in providers {
            // Submits.
            let cap = self.ctx.lanes[&p].limits.max_in_flight;
            let open = !self.stopping
                && self.run_halt.is_none()
                && self.disk_halt.is_none()
                && !self.halted.contains_key(&p)
                && !self.budget_halt;
            if self.disk_halt.is_some() {
                continue;
            }
            if open && *self.in_flight.get(&p).unwrap_or(&0) < cap {
                self.submit_from_queue(p, cap, now)?;
            }
            // Polls: due jobs, batched as the protocol allows.
            let (ctx, live) = (self.ctx, &self.live);
            if let Some(polling) = self.polling.get_mut(&p) {
                polling.retain(|i| !live[&ctx.plan.jobs[*i].key].results_complete);
            }
            while *self.polls_in_flight.get(&p).unwrap_or(&0) < POLLS_IN_FLIGHT {
                let batch = self.due_batch(p, now);
                if batch.is_empty() {
                    break;
                }
                for (k, _, _) in &batch {
                    let l = self.live_mut(k);
                    l.busy = true;
                    l.next_poll = None;
                }
                *self.polls_in_flight.entry(p).or_default() += 1;
                worker::poll(self.ctx.lanes[&p].clone(), self.ctx.clients[&p].clone(), batch, self.events_tx.clone());
            }
        }
        self.spawn_downloads();
        Ok(())
    }

    /// Starts submits from the provider's queue, in plan order, until the lane is full
    /// or the budget is reached; drops from the queue the idle jobs it may not send.
    fn submit_from_queue(&mut self, p: Provider, cap: u32, now: Instant) -> std::io::Result<()> {
        let ctx = self.ctx;
        let mut queue = self.submit_queue.remove(&p).unwrap_or_default();
        // Computed once a pass; each job started here adds its estimate.
        let mut committed = if ctx.budget_usd.is_some() { self.committed_usd() } else { 0.0 };
        let (mut kept, mut seen, mut result) = (0, 0, Ok(()));
        while seen < queue.len() && *self.in_flight.get(&p).unwrap_or(&0) < cap {
            let index = queue[seen];
            seen += 1;
            let key = ctx.plan.jobs[index].key.as_str();
            if !self.may_submit(key) && !self.live[key].busy {
                continue; // Dropped: accepted, settled, or out of tries for this run.
            }
            queue[kept] = index;
            kept += 1;
            if !self.submittable(key, now) {
                continue;
            }
            let est = ctx.job(key).estimated_cost_usd.unwrap_or(0.0);
            if let Some(budget) = ctx.budget_usd {
                if committed + est > budget + 1e-9 {
                    self.budget_halt = true;
                    self.note(&format!(
                        "Budget reached: ${committed:.2} committed, next job ~${est:.2}, budget ${budget:.2}. No new submissions; finishing jobs in flight."
                    ));
                    break;
                }
                committed += est;
            }
            result = self.spawn_submit(key);
            if result.is_err() {
                break;
            }
        }
        queue.drain(kept..seen);
        self.submit_queue.insert(p, queue);
        result
    }

    fn due_batch(&self, p: Provider, now: Instant) -> Vec<(String, crate::provider::RemoteTask, u32)> {
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

    fn spawn_submit(&mut self, key: &str) -> std::io::Result<()> {
        let job = self.ctx.job(key);
        let shot = &self.ctx.shots[job.shot_index];
        let request = match SubmitRequest::for_job(job, shot, uuid::Uuid::nil()) {
            Ok(r) => r,
            Err(e) => {
                let message = format!("cannot read a frame of {}: {e}", job.shot_id);
                return self.append(Record::Failed {
                    key: key.into(),
                    variant: None,
                    class: "rejected".into(),
                    message,
                    at: journal::now(),
                });
            }
        };
        let l = self.live_mut(key);
        l.busy = true;
        l.second_chance = false;
        *self.in_flight.entry(job.provider).or_default() += 1;
        let p = job.provider;
        worker::submit(
            self.ctx.lanes[&p].clone(),
            self.ctx.clients[&p].clone(),
            key.to_owned(),
            request,
            self.events_tx.clone(),
        );
        Ok(())
    }

    fn spawn_downloads(&mut self) {
        if self.disk_halt.is_some() {
            return; // Nothing can be saved; the next run downloads what is left.
        }
        let mut work = Vec::new();
        let ctx = self.ctx;
        let (state, live) = (&self.state, &self.live);
        // A clip seen is paid for: it is fetched whatever became of the rest of its job.
        self.to_fetch.retain(|index| {
            let key = &ctx.plan.jobs[*index].key;
            let Some(js) = state.jobs.get(key) else { return false };
            let mut waiting = false;
            for (v, c) in &js.clips {
                if let (Some(clip), None, None) = (&c.clip, &c.file, &c.failed) {
                    waiting = true;
                    if !live[key].downloading.contains(v) {
                        work.push((key.clone(), *v, clip.clone(), js.task.clone()));
                    }
                }
            }
            waiting
        });
        for (key, v, clip, task) in work {
            let job = self.ctx.job(&key);
            let file = format!("{}/{}_{}.{}", job.shot_id, job.shot_id, v, "mp4");
            let dest = self.ctx.out.join(&file);
            if let Some(dir) = dest.parent()
                && let Err(e) = std::fs::create_dir_all(dir)
            {
                // The out folder cannot take the shot's folder (read-only, full, no
                // permission): nothing can be saved, so halt as a failed write does.
                self.disk_halted(format!("cannot create {}: {e}", dir.display()));
                return;
            }
            self.live_mut(&key).downloading.insert(v);
            self.fetching += 1;
            worker::fetch(
                self.ctx.http.clone(),
                self.ctx.clients[&job.provider].clone(),
                task,
                key.clone(),
                v,
                clip,
                dest,
                file,
                self.ctx.timing.time_scale,
                self.downloads.clone(),
                self.events_tx.clone(),
            );
        }
    }

    fn handle(&mut self, event: Event) -> std::io::Result<()> {
        match event {
            Event::SubmitReady { key, go } => {
                let answer = self.intent(&key)?;
                if go.send(answer).is_err() {
                    self.submit_done(&key);
                }
            }
            Event::SubmitDropped { key } => self.submit_done(&key),
            Event::Submitted { key, attempt, result } => self.submitted(&key, attempt, result)?,
            Event::Polled { provider, keys, result } => self.polled(provider, keys, result)?,
            Event::Fetched { key, variant, file, result, new_url } => {
                self.fetched(&key, variant, file, result, new_url)?
            }
        }
        Ok(())
    }

    /// A submit not accepted: the job no longer counts as in flight.
    fn submit_done(&mut self, key: &str) {
        let p = self.ctx.job(key).provider;
        self.live_mut(key).busy = false;
        if let Some(n) = self.in_flight.get_mut(&p) {
            *n = n.saturating_sub(1);
        }
    }

    /// Writes the intent (fsynced) just before the request goes, or calls it off.
    fn intent(&mut self, key: &str) -> std::io::Result<Option<(u32, uuid::Uuid)>> {
        let job = self.ctx.job(key);
        if self.stopping || self.run_halt.is_some() || self.halted.contains_key(&job.provider) {
            return Ok(None);
        }
        let js = self.state.jobs.get(key);
        if js.is_none_or(|j| j.def.is_none()) {
            let def = JobDef {
                shot: job.shot_id.clone(),
                variants: job.variants.clone(),
                provider: job.provider,
                model: job.model.id.to_owned(),
                resolution: job.resolution.name().to_owned(),
                duration: job.duration,
                fps: job.fps,
                number_results: job.number_results,
                estimated_cost_usd: job.estimated_cost_usd,
            };
            self.append(Record::Job { key: key.to_owned(), def })?;
        }
        let js = &self.state.jobs[key];
        // Runware: the same taskUUID until it is accepted. A resend
        // answered 5xx or 429 says nothing of an earlier send of it that a kill left
        // unanswered (which may have been billed); only the same taskUUID is safe.
        if job.provider == Provider::Runware
            && js.task.is_none()
            && let Some(task_uuid) = js.task_uuid
        {
            match js.phase {
                Phase::Submitting { .. } | Phase::InDoubt { .. } => return Ok(Some((js.attempts, task_uuid))),
                _ => {
                    // Pending or failed before any acceptance: the intent is written again.
                    let attempt = js.attempts;
                    self.append(Record::Intent { key: key.to_owned(), attempt, task_uuid, at: journal::now() })?;
                    return Ok(Some((attempt, task_uuid)));
                }
            }
        }
        let attempt = js.attempts + 1;
        let task_uuid = task_uuid(self.state.run_id, key, attempt);
        self.append(Record::Intent { key: key.to_owned(), attempt, task_uuid, at: journal::now() })?;
        Ok(Some((attempt, task_uuid)))
    }

    fn submitted(&mut self, key: &str, attempt: u32, result: Result<Accepted, ProviderError>) -> std::io::Result<()> {
        let job = self.ctx.job(key);
        let p = job.provider;
        self.live_mut(key).busy = false;
        match result {
            Ok(acc) => {
                let (task, replayed) = (acc.task, acc.replayed);
                self.append(Record::Accepted { key: key.into(), attempt, task, replayed, at: journal::now() })?;
                // in_flight already counts this job; polling keeps it counted.
                if let Some(n) = self.in_flight.get_mut(&p) {
                    *n = n.saturating_sub(1);
                }
                self.start_polling(key, true);
            }
            Err(e) => {
                self.submit_done(key);
                let message = e.to_string();
                let class = e.class.name().to_owned();
                match &e.class {
                    ErrorClass::InDoubt if p == Provider::Runware => {
                        // The intent stands; the same taskUUID is sent again (a conflict then means accepted).
                        self.retry_later(key, &e);
                        if self.live[key].submit_tries >= SUBMIT_TRIES {
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
                        let tries = self.live[key].submit_tries + 1;
                        let retryable = tries < SUBMIT_TRIES;
                        self.append(Record::NotAccepted {
                            key: key.into(),
                            attempt,
                            class: class.clone(),
                            message: message.clone(),
                            retryable,
                            at: journal::now(),
                        })?;
                        if retryable {
                            self.retry_later(key, &e);
                        } else {
                            self.append(Record::Failed {
                                key: key.into(),
                                variant: None,
                                class,
                                message,
                                at: journal::now(),
                            })?;
                        }
                    }
                    ErrorClass::Billing => {
                        self.append(Record::NotAccepted {
                            key: key.into(),
                            attempt,
                            class,
                            message: message.clone(),
                            retryable: true,
                            at: journal::now(),
                        })?;
                        if !self.halted.contains_key(&p) {
                            self.note(&format!(
                                "{p} halted: {message}. Its remaining jobs stay pending; add credits and run again."
                            ));
                            self.halted.insert(p, message);
                        }
                    }
                    ErrorClass::Auth => {
                        self.append(Record::NotAccepted {
                            key: key.into(),
                            attempt,
                            class,
                            message: message.clone(),
                            retryable: true,
                            at: journal::now(),
                        })?;
                        if self.run_halt.is_none() {
                            let var = super::options::key_var(p);
                            self.note(&format!("Run halted: {p} refused the API key in {var}: {message}"));
                            self.run_halt = Some(format!("{p} refused the key in {var}"));
                        }
                    }
                    ErrorClass::Rejected | ErrorClass::ContentBlocked | ErrorClass::Failed | ErrorClass::Gone => {
                        self.append(Record::Failed {
                            key: key.into(),
                            variant: None,
                            class,
                            message,
                            at: journal::now(),
                        })?;
                    }
                }
            }
        }
        Ok(())
    }

    fn retry_later(&mut self, key: &str, e: &ProviderError) {
        let scale = self.ctx.timing.time_scale;
        let l = self.live_mut(key);
        l.submit_tries += 1;
        let backoff = Duration::from_secs_f64(2f64.powi(l.submit_tries.min(6) as i32) * scale);
        let wait = match e.class {
            // The lane's cooldown already holds everyone back; just queue again.
            ErrorClass::RateLimited { .. } => Duration::ZERO,
            _ => backoff,
        };
        l.not_before = Some(Instant::now() + wait);
    }

    fn polled(
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
                if e.class == ErrorClass::Auth && self.run_halt.is_none() {
                    let var = super::options::key_var(p);
                    self.note(&format!("Run halted: {p} refused the API key in {var} while polling: {e}"));
                    self.run_halt = Some(format!("{p} refused the key in {var}"));
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
                        self.append(Record::Failed {
                            key: key.clone(),
                            variant: None,
                            class: "timed_out".into(),
                            message,
                            at: journal::now(),
                        })?;
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
                    let class = e.class.name().to_owned();
                    self.append(Record::Failed {
                        key: key.clone(),
                        variant: None,
                        class,
                        message: e.to_string(),
                        at: journal::now(),
                    })?;
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
                        let (class, message) = (error.class.name().to_owned(), error.to_string());
                        self.append(Record::Failed {
                            key: key.clone(),
                            variant: Some(v),
                            class,
                            message,
                            at: journal::now(),
                        })?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Remembers how long a fresh job took from acceptance to its results (an upper
    /// bound of the render: polls are spaced).
    fn learn_render_time(&mut self, key: &str) {
        let job = self.ctx.job(key);
        let slot = (job.model.id, job.duration);
        let l = &self.live[key];
        if let (true, Some(at)) = (l.fresh, l.accepted_at) {
            let took = at.elapsed();
            let e = self.fastest.entry(slot).or_insert(took);
            *e = (*e).min(took);
        }
    }

    fn finish_polling(&mut self, key: &str) {
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

    fn record_clips(&mut self, key: &str, clips: Vec<Clip>) -> std::io::Result<()> {
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

    fn fetched(
        &mut self,
        key: &str,
        variant: u32,
        file: String,
        result: Result<super::download::Fetched, super::download::FetchError>,
        new_url: Option<String>,
    ) -> std::io::Result<()> {
        if self.live_mut(key).downloading.remove(&variant) {
            self.fetching -= 1;
        }
        if let Some(url) = new_url
            && let Some(mut clip) = self.state.jobs[key].clips.get(&variant).and_then(|c| c.clip.clone())
        {
            clip.video_url = url;
            self.append(Record::Clip { key: key.into(), variant, clip, at: journal::now() })?;
        }
        match result {
            Ok(f) => {
                let record = Record::Downloaded {
                    key: key.into(),
                    variant,
                    file,
                    sha256: f.sha256,
                    bytes: f.bytes,
                    at: journal::now(),
                };
                self.append(record)?;
            }
            // Nothing is recorded: the clip stays "seen, not on disk" and the next run fetches it.
            Err(super::download::FetchError::Disk(msg)) => self.disk_halted(msg),
            Err(e) => {
                let shot = &self.ctx.job(key).shot_id;
                self.note(&format!("{shot} clip {variant}: download failed: {e}"));
                let record = Record::Failed {
                    key: key.into(),
                    variant: Some(variant),
                    class: "download".into(),
                    message: e.to_string(),
                    at: journal::now(),
                };
                self.append(record)?;
            }
        }
        self.report_dirty = true;
        Ok(())
    }

    /// The out folder cannot be written: no more downloads or submits; a rerun resumes.
    fn disk_halted(&mut self, msg: String) {
        if self.disk_halt.is_none() {
            self.note(&format!(
                "Halted: {msg}. Free space (or make the folder writable) and run the same command again."
            ));
            self.disk_halt = Some(msg);
        }
    }

    /// Nothing is in the air and nothing more will be started.
    fn settled(&self) -> bool {
        if self.fetching > 0 || self.polls_in_flight.values().any(|n| *n > 0) {
            return false;
        }
        let ctx = self.ctx;
        let live = |index: &usize| &self.live[&ctx.plan.jobs[*index].key];
        let queued = || self.submit_queue.values().flatten();
        let polled = || self.polling.values().flatten();
        if queued().chain(polled()).any(|i| live(i).busy) {
            return false;
        }
        if self.disk_halt.is_some() {
            return true; // Polling on is pointless when nothing can be saved; a rerun resumes.
        }
        if polled().any(|i| live(i).next_poll.is_some() && !live(i).results_complete) {
            return false;
        }
        // Clips waiting for a download.
        let waiting = |i: &usize| {
            self.state
                .jobs
                .get(&ctx.plan.jobs[*i].key)
                .is_some_and(|j| j.clips.values().any(|c| c.clip.is_some() && c.file.is_none() && c.failed.is_none()))
        };
        if self.to_fetch.iter().any(waiting) {
            return false;
        }
        let can_submit = !self.stopping && self.run_halt.is_none() && !self.budget_halt;
        !queued().any(|i| {
            let job = &ctx.plan.jobs[*i];
            can_submit && !self.halted.contains_key(&job.provider) && self.may_submit(&job.key)
        })
    }

    fn next_wake(&self) -> Instant {
        let now = Instant::now();
        let mut wake = now + Duration::from_millis(500);
        for l in self.live.values() {
            for t in [l.next_poll, l.not_before].into_iter().flatten() {
                if t > now && t < wake {
                    wake = t;
                }
            }
        }
        wake.max(now + Duration::from_millis(2))
    }

    fn refresh_report(&mut self, force: bool) -> std::io::Result<()> {
        if !(force || (self.report_dirty && self.last_report.elapsed() >= self.report_every)) {
            return Ok(());
        }
        let started = Instant::now();
        let rows = super::report::rows(&self.ctx.plan, &self.state);
        // The report is derived from the journal (`shotlist report` rebuilds it): a
        // failure to write it is told, not fatal.
        if let Err(e) = super::report::write(&self.ctx.out.join("report.csv"), &rows) {
            self.note(&format!("cannot write report.csv: {e}"));
        }
        self.report_dirty = false;
        self.last_report = Instant::now();
        // A plan of many thousand jobs makes a large report: rewrite it at most 5 % of the time.
        self.report_every = REPORT_EVERY.max(started.elapsed() * 20);
        Ok(())
    }

    fn snapshot(&self) -> super::progress::Snapshot {
        let mut s = super::progress::Snapshot { budget_usd: self.ctx.budget_usd, ..Default::default() };
        for job in &self.ctx.plan.jobs {
            s.clips_total += u64::from(job.number_results);
            s.estimate_usd += job.estimated_cost_usd.unwrap_or(0.0);
            let js = self.state.jobs.get(&job.key);
            for v in &job.variants {
                match super::report::clip_status(js, *v) {
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
        for p in self.order.keys() {
            let cooling = self.ctx.lanes[p].cooling();
            s.lanes.push((p.name().to_owned(), *self.in_flight.get(p).unwrap_or(&0), cooling));
        }
        s
    }

    fn outcome(&self) -> Outcome {
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
            job.variants.iter().any(|v| super::report::clip_status(js, *v) != "done")
        });
        if unfinished { Outcome::Incomplete } else { Outcome::AllDone }
    }
}

/// The Runware `taskUUID` of an attempt: derived from the run id and the job key,
/// so a resumed run sends the same one again (and a conflict proves acceptance).
pub fn task_uuid(run_id: uuid::Uuid, key: &str, attempt: u32) -> uuid::Uuid {
    let derived = uuid::Uuid::new_v5(&run_id, format!("{key}#{attempt}").as_bytes());
    // Runware asks for a v4-shaped UUID: keep the derived bits, stamp version 4.
    uuid::Builder::from_random_bytes(*derived.as_bytes()).into_uuid()
}
