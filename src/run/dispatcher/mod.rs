//! The dispatcher: the only owner of job state. It decides what to submit, poll
//! and download next (within each lane's cap, the budget and any halt), spawns
//! workers, and turns their events into journal records, written before they take
//! effect, then into state. It also rewrites the report and feeds progress.

mod activity;
mod fetch;
mod pace;
mod poll;
mod reconcile;
mod resume;
mod submit;
mod view;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::journal::{self, FailClass, JobDef, Record};
use super::state::{Halt, Phase, RunState};
use super::store::{Claim, Holder};
use super::worker::{self, Event};
use super::{Context, Outcome};
use crate::catalog::Provider;
use crate::plan::{Job, JobId};
use crate::provider::{Accepted, Clip, ErrorClass, PollOutcome, ProviderError, SubmitRequest, VideoApi};
use activity::{Activity, Tally};

/// How many times a submit refused for a passing reason (429, 5xx) is retried in one run.
const SUBMIT_TRIES: u32 = 12;
/// Poll requests in the air at once per provider, at least (see `Dispatcher::poll_slots`).
const POLLS_IN_FLIGHT: usize = 4;
/// Tasks in flight per poll request in the air: a provider polled one task a request
/// (MiniMax, Segmind) with 1,000 jobs in flight gets 63 requests at once.
const TASKS_PER_POLL_SLOT: usize = 16;
/// Poll requests in the air at once per provider, at most.
const MAX_POLLS_IN_FLIGHT: usize = 64;
/// The report is rewritten at most this often (more rarely when writing it is slow).
const REPORT_EVERY: Duration = Duration::from_millis(500);

/// Run-local bookkeeping of a job (not journaled).
#[derive(Default)]
struct Live {
    not_before: Option<Instant>,
    submit_tries: u32,
    /// What this run is doing with it; changed by `set_activity` alone.
    activity: Activity,
    next_poll: Option<Instant>,
    accepted_at: Option<Instant>,
    /// Variants whose download is in the air (a few at most: a list, not a set,
    /// whose table outlived the download); changed by `set_downloading` alone.
    downloading: Vec<u32>,
    /// This run may send the job once more although the journal left it failed or
    /// in doubt (decided at start; spent by the first submit).
    second_chance: bool,
    /// Accepted in this run (its render time is then known from here).
    fresh: bool,
}

pub struct Dispatcher<'a> {
    ctx: &'a Context,
    state: RunState,
    /// Where records go (the folder's journal, or a database shared by runners).
    journal: Box<dyn super::store::Store>,
    /// Per job (indexed by [`JobId`]), what this run knows of it beyond the journal.
    live: Vec<Live>,
    /// The providers the plan uses.
    providers: Vec<Provider>,
    // The work sets below keep each pass proportional to the work in hand, not to the
    // plan (a pass over 10,000 jobs after every batch of events made CPU grow faster
    // than the plan).
    /// Per provider, the jobs this run may still submit, in plan order. A job
    /// leaves once it is idle and may not be submitted: that lasts for the run.
    submit_queue: BTreeMap<Provider, Vec<JobId>>,
    /// Per provider, the jobs whose results are awaited.
    polling: BTreeMap<Provider, BTreeSet<JobId>>,
    /// Jobs that may have a clip seen and not yet on disk.
    to_fetch: BTreeSet<JobId>,
    /// How often the report may be rewritten (longer when writing it takes long).
    report_every: Duration,
    /// Per provider, its jobs by activity and its requests in the air (derived:
    /// see `activity`).
    tallies: HashMap<Provider, Tally>,
    downloads: Arc<tokio::sync::Semaphore>,
    events_tx: worker::Events,
    events: mpsc::UnboundedReceiver<Event>,
    halted: HashMap<Provider, String>,
    /// Why new work stopped, if it did; only ever rises (see [`Halt`]).
    halt: Option<Halt>,
    /// Ctrl-C presses: the second quits at once.
    interrupts: u32,
    progress: super::progress::Progress,
    report_dirty: bool,
    last_report: Instant,
    /// When to poll each job, and the render times learnt in this run.
    sched: super::schedule::Schedule<JobId>,
    /// When this runner last looked for jobs whose runner died (a database store).
    last_adopt: Instant,
    /// Jobs another runner holds: followed through the store until they settle.
    elsewhere: BTreeSet<JobId>,
    /// Per provider, no claim for a submit before this moment: the account had as
    /// many jobs in flight as it allows.
    account_full: HashMap<Provider, Instant>,
    /// When submits held back (`Live::not_before`) may go again: what `next_wake`
    /// needs of them, without a pass over every job.
    retry_wakes: std::collections::BinaryHeap<std::cmp::Reverse<Instant>>,
}

impl<'a> Dispatcher<'a> {
    pub fn new(ctx: &'a Context, state: RunState, journal: Box<dyn super::store::Store>) -> Self {
        let (events_tx, events) = mpsc::unbounded_channel();
        let mut submit_queue: BTreeMap<Provider, Vec<JobId>> = BTreeMap::new();
        for id in ctx.plan.ids() {
            submit_queue.entry(ctx.job(id).provider).or_default().push(id);
        }
        let live = ctx.plan.ids().map(|_| Live::default()).collect();
        let total: u64 = ctx.plan.jobs.iter().map(|j| u64::from(j.number_results)).sum();
        Dispatcher {
            ctx,
            state,
            journal,
            live,
            providers: submit_queue.keys().copied().collect(),
            submit_queue,
            polling: BTreeMap::new(),
            to_fetch: BTreeSet::new(),
            report_every: REPORT_EVERY,
            tallies: HashMap::new(),
            downloads: Arc::new(tokio::sync::Semaphore::new(4)),
            events_tx,
            events,
            halted: HashMap::new(),
            halt: None,
            interrupts: 0,
            progress: super::progress::Progress::new(total, ctx.quiet),
            report_dirty: true,
            last_report: Instant::now(),
            sched: super::schedule::Schedule::new(ctx.timing.time_scale),
            last_adopt: Instant::now(),
            elsewhere: BTreeSet::new(),
            account_full: HashMap::new(),
            retry_wakes: Default::default(),
        }
    }

    fn append(&mut self, record: Record) -> std::io::Result<()> {
        self.journal.append(&record)?;
        self.state.apply(&record);
        Ok(())
    }

    /// The job `id` names (the plan's).
    fn job(&self, id: JobId) -> &'a Job {
        self.ctx.job(id)
    }

    /// The job's key: what the journal, the store and the provider know it by.
    fn key(&self, id: JobId) -> String {
        self.ctx.job(id).key.clone()
    }

    /// What the journal says of the job, if anything yet.
    fn js(&self, id: JobId) -> Option<&super::state::JobState> {
        self.state.jobs.get(&self.job(id).key)
    }

    fn live(&self, id: JobId) -> &Live {
        &self.live[id.index()]
    }

    fn live_mut(&mut self, id: JobId) -> &mut Live {
        &mut self.live[id.index()]
    }

    /// Writes an intent with the store's claim of the job: `false` (nothing written)
    /// when another runner holds it or moved it on.
    fn append_intent(&mut self, id: JobId, record: Record) -> std::io::Result<bool> {
        let idempotent = self.idempotent(id);
        match self.journal.intent(&record, idempotent)? {
            Claim::Granted => {
                self.state.apply(&record);
                Ok(true)
            }
            Claim::Elsewhere(_) => {
                self.elsewhere(id);
                Ok(false)
            }
            Claim::Adopt(records) => {
                self.take_over(id, records)?;
                Ok(false)
            }
            Claim::AccountFull => Ok(false),
            Claim::OverBudget { committed_usd } => {
                let worst = self.job(id).worst_case_usd().unwrap_or(f64::INFINITY);
                self.budget_reached(committed_usd, worst, "by the campaign's runners");
                Ok(false)
            }
        }
    }

    /// Claims the job for this runner: `false` when another holds it (or moved it
    /// on, in which case what it did is taken over).
    fn claimed(&mut self, id: JobId) -> std::io::Result<bool> {
        self.claimed_within(id, false)
    }

    /// As [`Self::claimed`]; for a submit, within the account's in-flight limit
    /// (every runner's jobs count): a full account holds this provider's submits back.
    fn claimed_within(&mut self, id: JobId, submit: bool) -> std::io::Result<bool> {
        let p = self.job(id).provider;
        let limit = match (submit, self.ctx.accounts.get(&p)) {
            (true, Some(account)) => {
                Some(super::store::InFlight { account, max: self.ctx.lanes[&p].limits.max_in_flight })
            }
            _ => None,
        };
        match self.journal.claim(&self.job(id).key, limit)? {
            Claim::Granted => Ok(true),
            Claim::AccountFull => {
                self.account_full.insert(p, Instant::now() + Duration::from_millis(50));
                Ok(false)
            }
            Claim::Elsewhere(_) => {
                self.elsewhere(id);
                Ok(false)
            }
            Claim::Adopt(records) => {
                self.take_over(id, records)?;
                Ok(false)
            }
            // Only an intent is checked against the budget.
            Claim::OverBudget { .. } => Ok(false),
        }
    }

    /// Another runner holds the job: this one neither sends nor polls it.
    fn elsewhere(&mut self, id: JobId) {
        let l = self.live_mut(id);
        l.submit_tries = SUBMIT_TRIES;
        l.second_chance = false;
        self.elsewhere.insert(id);
    }

    /// A job another runner holds that has not settled yet.
    fn open_elsewhere(&self, id: JobId) -> bool {
        self.elsewhere.contains(&id)
            && !matches!(self.js(id).map(|j| &j.phase), Some(Phase::Done | Phase::Failed(_) | Phase::InDoubt { .. }))
    }

    /// This runner now holds a job another runner worked on: what it knew of the
    /// job is replaced by the job's records, and the job resumes as after a restart
    /// (a job done elsewhere stays done; its files are in that runner's folder).
    fn take_over(&mut self, id: JobId, records: Vec<Record>) -> std::io::Result<()> {
        self.elsewhere.remove(&id);
        self.replace_records(&self.key(id), &records);
        let l = self.live_mut(id);
        l.submit_tries = 0;
        l.second_chance = false;
        match self.js(id).map(|j| &j.phase) {
            Some(Phase::Done) => Ok(()),
            _ => {
                let queue = self.submit_queue.entry(self.job(id).provider).or_default();
                if let Err(at) = queue.binary_search(&id) {
                    queue.insert(at, id);
                }
                self.resume_job(id)
            }
        }
    }

    /// What the state knew of the job `key` is replaced by its records.
    fn replace_records(&mut self, key: &str, records: &[Record]) {
        self.state.jobs.remove(key);
        for r in records {
            self.state.apply(r);
        }
    }

    /// Takes over the open jobs of runners that died (their leases ran out).
    fn adopt_orphans(&mut self) -> std::io::Result<()> {
        if self.last_adopt.elapsed() < Duration::from_secs(1) || self.halt.is_some() {
            return Ok(());
        }
        self.last_adopt = Instant::now();
        // The store's records come in by key: the one place a key becomes an id.
        for (key, records) in self.journal.adopt()? {
            match self.ctx.id(&key) {
                Some(id) => self.take_over(id, records)?,
                // Not in this run's plan: only its state is brought up to date.
                None => self.replace_records(&key, &records),
            }
        }
        // What the other runners did with theirs, rebuilt from their records.
        let open: Vec<String> =
            self.elsewhere.iter().copied().filter(|id| self.open_elsewhere(*id)).map(|id| self.key(id)).collect();
        if !open.is_empty() {
            let records = self.journal.records_of_jobs(&open)?;
            for key in &open {
                self.state.jobs.remove(key);
            }
            for r in &records {
                self.state.apply(r);
            }
            self.report_dirty = true;
        }
        Ok(())
    }

    /// Journals a failure: of the whole job (`variant` None) or of one variant.
    fn failed(&mut self, id: JobId, variant: Option<u32>, class: FailClass, message: String) -> std::io::Result<()> {
        self.append(Record::Failed { key: self.key(id), variant, class, message, at: journal::now() })
    }

    /// Journals a submit the provider did not accept: retryable leaves the job pending.
    fn not_accepted(
        &mut self,
        id: JobId,
        attempt: u32,
        class: FailClass,
        message: &str,
        retryable: bool,
    ) -> std::io::Result<()> {
        let (key, message) = (self.key(id), message.into());
        self.append(Record::NotAccepted { key, attempt, class, message, retryable, at: journal::now() })
    }

    /// Raises the run's halt to `halt` unless it stands higher already; says so once.
    fn raise(&mut self, halt: Halt) -> bool {
        if self.halt.as_ref().is_some_and(|h| *h >= halt) {
            return false;
        }
        self.halt = Some(halt);
        true
    }

    fn note(&self, msg: &str) {
        self.progress.note(msg);
    }

    /// Resumes what the journal left open, then runs until every job is settled
    /// (or the run stops), and says how it ended.
    pub async fn run(mut self) -> std::io::Result<(Outcome, RunState)> {
        self.reconcile_lost_submits().await?;
        self.resume()?;
        if let Some(why) = self.unpriced_under_budget() {
            self.note(&format!("Not sent: {why}."));
        }
        let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
        let mut last_progress = Instant::now() - Duration::from_secs(1);
        loop {
            self.adopt_orphans()?;
            self.schedule()?;
            self.refresh_report(false)?;
            if last_progress.elapsed() >= Duration::from_millis(200) && self.progress.wants_update() {
                let snapshot = self.snapshot();
                self.progress.update(&snapshot);
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
                    self.interrupts += 1;
                    if self.interrupts > 1 {
                        // Second Ctrl-C: out at once; every record written is whole.
                        self.journal.sync()?;
                        self.refresh_report(true)?;
                        let outcome = self.outcome();
                        return Ok((outcome, self.state));
                    }
                    self.raise(Halt::Interrupted);
                    if self.outcome() == Outcome::AllDone {
                        self.note("Ctrl-C: every clip is already in, so nothing is interrupted; finishing (exit 0).");
                    } else {
                        self.note("Interrupted: no new submissions; waiting for jobs in flight (Ctrl-C again to quit now; the journal is consistent).");
                    }
                    ctrl_c.set(tokio::signal::ctrl_c());
                }
            }
        }
        self.journal.sync()?;
        #[cfg(debug_assertions)]
        {
            let mut kept = self.tallies.clone();
            kept.retain(|_, t| *t != Tally::default());
            debug_assert_eq!(kept, self.recounted(), "the tallies follow every job's activity");
        }
        self.refresh_report(true)?;
        let snapshot = self.snapshot();
        self.progress.finish(&snapshot);
        let outcome = self.outcome();
        Ok((outcome, self.state))
    }

    fn schedule(&mut self) -> std::io::Result<()> {
        let now = Instant::now();
        for p in self.providers.clone() {
            // Submits.
            let cap = self.ctx.lanes[&p].limits.max_in_flight;
            let open = self.halt.is_none() && !self.halted.contains_key(&p);
            if matches!(self.halt, Some(Halt::Disk(_))) {
                continue;
            }
            if open && self.tally(p).in_flight() < cap {
                self.submit_from_queue(p, cap, now)?;
            }
            // Polls: due jobs, batched as the protocol allows.
            let live = &self.live;
            if let Some(polling) = self.polling.get_mut(&p) {
                polling.retain(|id| live[id.index()].activity.polling());
            }
            let slots = self.poll_slots(p);
            while (self.tally(p).poll_requests as usize) < slots {
                let batch = self.due_batch(p, now);
                if batch.is_empty() {
                    break;
                }
                for (id, _, _) in &batch {
                    self.set_activity(*id, Activity::Polled);
                    self.live_mut(*id).next_poll = None;
                }
                self.set_poll_request(p, true);
                worker::poll(self.ctx.lanes[&p].clone(), self.ctx.clients[&p].clone(), batch, self.events_tx.clone());
            }
        }
        self.spawn_downloads();
        Ok(())
    }

    /// How many poll requests of provider `p` may be in the air: with the jobs in
    /// flight over what one request covers (a constant 4 left jobs of a provider
    /// polled one task a request waiting past their deadline), within what the lane's
    /// poll rate could use in a second.
    fn poll_slots(&self, p: Provider) -> usize {
        let in_flight = self.tally(p).in_flight() as usize;
        let batch = self.ctx.clients[&p].max_poll_batch().max(1);
        let wanted = in_flight.div_ceil(batch * TASKS_PER_POLL_SLOT);
        let lane = &self.ctx.lanes[&p];
        let per_sec = f64::from(lane.limits.polls_per_minute) / 60.0 / self.ctx.timing.time_scale.max(1e-9);
        let by_rate = (per_sec as usize).clamp(POLLS_IN_FLIGHT, MAX_POLLS_IN_FLIGHT);
        wanted.clamp(POLLS_IN_FLIGHT, by_rate)
    }

    fn handle(&mut self, event: Event) -> std::io::Result<()> {
        match event {
            Event::SubmitReady { id, go } => {
                let answer = self.intent(id)?;
                if answer.is_some() {
                    self.set_activity(id, Activity::Sending);
                }
                if go.send(answer).is_err() {
                    self.submit_done(id);
                }
            }
            Event::SubmitDropped { id } => self.submit_done(id),
            Event::Submitted { id, attempt, result } => self.submitted(id, attempt, result)?,
            Event::Polled { provider, ids, result } => self.polled(provider, ids, result)?,
            Event::Fetched { id, variant, file, result, new_url } => {
                self.fetched(id, variant, file, result, new_url)?
            }
        }
        Ok(())
    }

    /// Nothing is in the air and nothing more will be started.
    fn settled(&self) -> bool {
        // Runners sharing a campaign: stay while another's jobs are open (it may die,
        // and its jobs are then this runner's to finish).
        if self.halt.is_none() && self.elsewhere.iter().any(|id| self.open_elsewhere(*id)) {
            return false;
        }
        // A submit, a poll or a download in the air.
        if self.tallies.values().any(Tally::busy) {
            return false;
        }
        let live = |id: &JobId| self.live(*id);
        let queued = || self.submit_queue.values().flatten();
        let polled = || self.polling.values().flatten();
        let can_submit = self.halt.is_none();
        let sendable =
            |id: &JobId| can_submit && !self.halted.contains_key(&self.job(*id).provider) && self.may_submit(*id);
        // Checked first as the usual answer during a night, found at the queue's front
        // (the scans below cost a pass over every queued job).
        if queued().any(sendable) {
            return false;
        }
        if matches!(self.halt, Some(Halt::Disk(_))) {
            return true; // Polling on is pointless when nothing can be saved; a rerun resumes.
        }
        if polled().any(|i| live(i).next_poll.is_some() && live(i).activity == Activity::Awaiting) {
            return false;
        }
        // Clips waiting for a download.
        !self.to_fetch.iter().any(|id| self.js(*id).is_some_and(|j| j.has_clips_to_download()))
    }

    fn next_wake(&mut self) -> Instant {
        let now = Instant::now();
        let mut wake = now + Duration::from_millis(500);
        for t in self.account_full.values() {
            if *t > now && *t < wake {
                wake = *t;
            }
        }
        // A sweep under pressure (a full lane) follows the renders learnt, not a job's due time.
        if let Some(t) = self.sched.next_wake()
            && t > now
            && t < wake
        {
            wake = t;
        }
        // Only the jobs polled have a poll due, and only those retried a time to
        // wait for: no pass over every job of the plan (once a wake, at 100,000 jobs
        // that was most of the runner's CPU).
        for id in self.polling.values().flatten() {
            if let Some(t) = self.live(*id).next_poll
                && t > now
                && t < wake
            {
                wake = t;
            }
        }
        while self.retry_wakes.peek().is_some_and(|t| t.0 <= now) {
            self.retry_wakes.pop();
        }
        if let Some(t) = self.retry_wakes.peek()
            && t.0 < wake
        {
            wake = t.0;
        }
        wake.max(now + Duration::from_millis(2))
    }
}

/// The Runware `taskUUID` of an attempt: derived from the run id and the job key,
/// so a resumed run sends the same one again (and a conflict proves acceptance).
pub fn task_uuid(run_id: uuid::Uuid, key: &str, attempt: u32) -> uuid::Uuid {
    let derived = uuid::Uuid::new_v5(&run_id, format!("{key}#{attempt}").as_bytes());
    // Runware asks for a v4-shaped UUID: keep the derived bits, stamp version 4.
    uuid::Builder::from_random_bytes(*derived.as_bytes()).into_uuid()
}
