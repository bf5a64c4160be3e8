//! The state of every job, rebuilt from the journal and kept up to date by the
//! dispatcher (the only writer). `status` and `report` read the same fold.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::journal::{self, FailClass, JobDef, Record};
use crate::provider::{Clip, RemoteTask};

/// The state's hash maps: keys are the journal's own (job keys, file and shot
/// names), so SipHash's guard against chosen keys buys nothing, and hashing every
/// record's key with it was a tenth of a 100,000-job replay.
type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Why a run stopped sending new work, in rising order: a halt only ever rises
/// (a disk that fills after a Ctrl-C still stops the downloads).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Halt {
    /// Ctrl-C: no new submissions; what is in flight finishes.
    Interrupted,
    /// The next job does not fit the budget: no new submissions.
    Budget(String),
    /// A provider refused the API key: nothing more is sent.
    Auth(String),
    /// The out folder cannot be written: nothing more is sent or saved.
    Disk(String),
}

impl Halt {
    /// Whether a submit already admitted may still be sent (only a budget leaves
    /// the jobs it admitted to go: they fit it).
    pub fn lets_admitted_go(&self) -> bool {
        matches!(self, Halt::Budget(_))
    }
}

/// Where a job stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    /// Not submitted (or refused in a way that allows a later try).
    Pending,
    /// An intent is on disk and no answer is: the submit may be on the wire.
    Submitting { attempt: u32, task_uuid: Uuid },
    /// Accepted; results are being awaited or downloaded.
    Running,
    /// The submit's outcome is unknown; never resubmitted without the user's word.
    InDoubt { message: String },
    /// Ended without every result.
    Failed(Failure),
    /// Every clip is on disk.
    Done,
}

/// Why a job or clip ended without a result.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub class: FailClass,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.class, self.message)
    }
}

/// A clip's file, complete under its final name.
#[derive(Clone, Debug, PartialEq)]
pub struct FileRec {
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    pub at: String,
}

/// One variant of a job.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClipState {
    pub clip: Option<Clip>,
    pub file: Option<FileRec>,
    pub failed: Option<Failure>,
}

impl ClipState {
    /// Seen (so paid for) and neither on disk nor given up on: to be downloaded.
    pub fn to_download(&self) -> bool {
        self.clip.is_some() && self.file.is_none() && self.failed.is_none()
    }
}

/// A job's variants, in variant order: the few entries of a `BTreeMap` at the
/// price of a short sorted list. A `BTreeMap` node holds room for eleven entries
/// however few it has (some 3 KB a job here: most of a 100,000-job night's memory).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Clips(Vec<(u32, ClipState)>);

impl Clips {
    pub fn get(&self, variant: &u32) -> Option<&ClipState> {
        self.0.binary_search_by_key(variant, |(v, _)| *v).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, variant: &u32) -> Option<&mut ClipState> {
        self.0.binary_search_by_key(variant, |(v, _)| *v).ok().map(|i| &mut self.0[i].1)
    }

    /// The variant's entry, as `BTreeMap::entry` (`.or_default()` fills it).
    pub fn entry(&mut self, variant: u32) -> ClipEntry<'_> {
        ClipEntry { clips: self, variant }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&u32, &ClipState)> {
        self.0.iter().map(|(v, c)| (v, c))
    }

    pub fn values(&self) -> impl Iterator<Item = &ClipState> {
        self.0.iter().map(|(_, c)| c)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut ClipState> {
        self.0.iter_mut().map(|(_, c)| c)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Clips {
    type Item = (&'a u32, &'a ClipState);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (u32, ClipState)>, fn(&'a (u32, ClipState)) -> Self::Item>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(v, c)| (v, c))
    }
}

/// A variant's place in [`Clips`].
pub struct ClipEntry<'a> {
    clips: &'a mut Clips,
    variant: u32,
}

impl<'a> ClipEntry<'a> {
    pub fn or_default(self) -> &'a mut ClipState {
        let list = &mut self.clips.0;
        let at = match list.binary_search_by_key(&self.variant, |(v, _)| *v) {
            Ok(at) => at,
            Err(at) => {
                // Most jobs have one variant: growing by doubling would reserve room
                // for four entries of some 300 bytes each (about 1 KB a job, the
                // largest per-job share of a 100,000-shot night's heap).
                list.reserve_exact(1);
                list.insert(at, (self.variant, ClipState::default()));
                at
            }
        };
        &mut list[at].1
    }
}

/// One job as the journal tells it.
#[derive(Clone, Debug, PartialEq)]
pub struct JobState {
    pub key: String,
    pub def: Option<JobDef>,
    pub phase: Phase,
    /// Submits attempted (intents written).
    pub attempts: u32,
    pub task_uuid: Option<Uuid>,
    /// The accepted remote task, kept after a failure so a later run can collect it.
    pub task: Option<RemoteTask>,
    /// The attempt whose submit was accepted last: an intent of a later attempt is
    /// unanswered (or was refused) even though `task` holds an earlier one.
    pub accepted_attempt: Option<u32>,
    pub clips: Clips,
    pub submitted_at: Option<String>,
    pub completed_at: Option<String>,
    pub error: Option<String>,
}

impl JobState {
    pub fn new(key: &str) -> JobState {
        JobState {
            key: key.to_owned(),
            def: None,
            phase: Phase::Pending,
            attempts: 0,
            task_uuid: None,
            task: None,
            accepted_attempt: None,
            clips: Clips::default(),
            submitted_at: None,
            completed_at: None,
            error: None,
        }
    }

    /// The variant a clip belongs to: the one already holding its remote id, else
    /// the first free variant of the job (Runware returns results in any order).
    pub fn variant_for(&self, clip: &Clip, variants: &[u32]) -> Option<u32> {
        if let Some((v, _)) =
            self.clips.iter().find(|(_, c)| c.clip.as_ref().is_some_and(|c| c.remote_id == clip.remote_id))
        {
            return Some(*v);
        }
        variants.iter().copied().find(|v| self.clips.get(v).is_none_or(|c| c.clip.is_none()))
    }

    /// The idempotency key of the job's latest submit when that submit was never
    /// accepted: it may have reached the provider (a kill can cut the answer off), so
    /// only this key may be sent again, never a new one.
    pub fn unaccepted_task_uuid(&self) -> Option<Uuid> {
        self.task_uuid.filter(|_| self.accepted_attempt != Some(self.attempts))
    }

    /// Whether the job holds takes, or may still yield some: accepted, perhaps
    /// accepted, or with a clip seen.
    pub fn may_hold_takes(&self) -> bool {
        self.task.is_some()
            || matches!(self.phase, Phase::Submitting { .. } | Phase::InDoubt { .. })
            || self.clips.values().any(|c| c.clip.is_some())
    }

    /// Whether a clip of the job is seen and not on disk (nor given up on).
    pub fn has_clips_to_download(&self) -> bool {
        self.clips.values().any(ClipState::to_download)
    }

    /// Whether every variant has its file.
    pub fn all_downloaded(&self) -> bool {
        let Some(def) = &self.def else { return false };
        def.variants.iter().all(|v| self.clips.get(v).is_some_and(|c| c.file.is_some()))
    }

    /// Every variant either has its file or failed.
    pub fn all_settled(&self) -> bool {
        let Some(def) = &self.def else { return false };
        def.variants.iter().all(|v| self.clips.get(v).is_some_and(|c| c.file.is_some() || c.failed.is_some()))
    }
}

/// Everything the journal says.
#[derive(Clone, Debug, Default)]
pub struct RunState {
    pub run_id: Uuid,
    pub jobs: BTreeMap<String, JobState>,
    pub runs: u32,
    /// Per shot, the versions its journaled jobs render (kept by `apply`, so a new
    /// job's version needs no walk over every job).
    versions: FastMap<String, ShotVersions>,
    /// Every file a clip was saved as, and whose it is: a paid take's file is never
    /// the target of another download.
    files: FastMap<String, (String, u32)>,
}

/// The versions of one shot's takes.
#[derive(Clone, Debug, Default)]
struct ShotVersions {
    by_render: FastMap<String, u32>,
    highest: u32,
}

impl RunState {
    /// The fold of `records`, as `apply` one by one would leave it (see [`Replay`]).
    /// Records given by value are taken apart into the state (no name, clip or
    /// definition copied); borrowed ones are copied first.
    pub fn replay<R: Into<Record>>(records: impl IntoIterator<Item = R>) -> RunState {
        let records = records.into_iter();
        // A job has some five records.
        let mut replay = Replay::with_capacity(records.size_hint().0 / 4);
        for r in records {
            replay.push(r.into());
        }
        replay.finish()
    }

    /// The state a journal file holds, folded while it is read (see
    /// [`journal::read_each`]), and what was found after its last whole line.
    pub fn read(path: &std::path::Path) -> Result<(RunState, journal::Tail), journal::JournalError> {
        // Room for a job a kilobyte: a job's records are some 1.4 KB of the journal.
        let jobs = std::fs::metadata(path).map_or(0, |m| m.len() / 1024);
        let mut replay = Replay::with_capacity(usize::try_from(jobs).unwrap_or(0));
        let tail = journal::read_each(path, |record| replay.push(record))?;
        Ok((replay.finish(), tail))
    }

    /// The version a new job of `shot` that renders `render_key` belongs to: the
    /// version of earlier takes of the same render, else one past the shot's highest.
    pub fn version_for(&self, shot: &str, render_key: &str) -> u32 {
        match self.versions.get(shot) {
            Some(v) => v.by_render.get(render_key).copied().unwrap_or(v.highest + 1),
            None => 1,
        }
    }

    /// Where variant `variant` of job `key` is saved, relative to the out folder:
    /// `<shot>/<shot>_<variant>.<ext>` for a shot's first version (the names shotlist
    /// always used), `<shot>/<shot>_v002_<variant>.<ext>` for later ones, so a shot's
    /// files sort by version. A name already holding another clip's file (journals
    /// from before versions) gets the job's key, so no paid take is written over.
    pub fn take_file(&self, key: &str, variant: u32, ext: &str) -> String {
        let Some(def) = self.jobs.get(key).and_then(|j| j.def.as_ref()) else {
            return format!("{key}_{variant}.{ext}");
        };
        let shot = &def.shot;
        let name = match def.version {
            0 | 1 => format!("{shot}/{shot}_{variant}.{ext}"),
            v => format!("{shot}/{shot}_v{v:03}_{variant}.{ext}"),
        };
        match self.files.get(&name) {
            Some((k, v)) if (k.as_str(), *v) != (key, variant) => {
                format!("{shot}/{shot}_v{:03}_{variant}-{}.{ext}", def.version, &key[..key.len().min(8)])
            }
            _ => name,
        }
    }

    /// Fits the plan to the takes the journal holds (see [`Plan::keep_takes`]): a
    /// journaled job counts when it was accepted, may have been, or has a clip seen;
    /// one never accepted holds nothing paid and is simply planned anew.
    pub fn keep_takes(&self, plan: &mut crate::plan::Plan, manifest: &crate::manifest::Manifest) {
        let mut by_render: std::collections::HashMap<&str, Vec<(String, Vec<u32>)>> = Default::default();
        for (key, j) in &self.jobs {
            let (Some(def), true) = (&j.def, j.may_hold_takes()) else { continue };
            if let Some(render) = &def.render_key {
                by_render.entry(render).or_default().push((key.clone(), def.variants.clone()));
            }
        }
        if by_render.is_empty() {
            return;
        }
        for list in by_render.values_mut() {
            list.sort_by_key(|(_, v)| v.first().copied());
        }
        plan.keep_takes(manifest, &|render| by_render.get(render).cloned().unwrap_or_default());
    }

    /// The job `key`, made when the journal has none yet.
    pub fn job_mut(&mut self, key: &str) -> &mut JobState {
        // Most records are of a job already known: no key allocated for those.
        if !self.jobs.contains_key(key) {
            self.jobs.insert(key.to_owned(), JobState::new(key));
        }
        self.jobs.get_mut(key).expect("inserted above")
    }

    /// Applies one record: the same transitions at replay and while running (a
    /// borrowed record is copied, as the dispatcher keeps what it writes).
    pub fn apply(&mut self, record: impl Into<Record>) {
        let mut jobs = std::mem::take(&mut self.jobs);
        let all = &mut jobs;
        self.fold(record.into(), move |key| {
            let jobs = all;
            // Most records are of a job already known: no key allocated for those.
            if !jobs.contains_key(key) {
                jobs.insert(key.to_owned(), JobState::new(key));
            }
            jobs.get_mut(key).expect("inserted above")
        });
        self.jobs = jobs;
    }

    /// The one fold of `apply` and `replay`: what the record changes outside its job,
    /// then in its job (found or made by `job`).
    fn fold<'j>(&mut self, record: Record, job: impl FnOnce(&str) -> &'j mut JobState) {
        self.apply_campaign(&record);
        if let Some(key) = record.job_key() {
            job(key).apply(record);
        }
    }

    /// What a record changes outside its job: the run id, the runs, the shots'
    /// versions and the files taken.
    fn apply_campaign(&mut self, record: &Record) {
        match record {
            Record::Header { run_id, .. } => self.run_id = *run_id,
            Record::Run { .. } => self.runs += 1,
            Record::Job { def, .. } => {
                // Most shots have one job: their entry is new, and only then is the name copied.
                let v = match self.versions.get_mut(def.shot.as_str()) {
                    Some(v) => v,
                    None => self.versions.entry(def.shot.clone()).or_default(),
                };
                v.highest = v.highest.max(def.version);
                if let Some(render) = &def.render_key
                    && !v.by_render.contains_key(render.as_str())
                {
                    v.by_render.insert(render.clone(), def.version);
                }
            }
            Record::Downloaded { key, variant, file, .. } => {
                self.files.insert(file.clone(), (key.clone(), *variant));
            }
            _ => {}
        }
    }
}

/// A replay under way: the fold of records given one by one, as `apply` would
/// leave it. The jobs are folded in a list indexed by a hash map of their keys and
/// sorted into the `BTreeMap` once at the end: looking each record's job up in a
/// growing `BTreeMap` of large values (key comparisons down some 17 levels, values
/// moved on every insert) made a 100,000-job journal's replay super-linear, and a
/// job's state is moved only twice here.
pub struct Replay {
    state: RunState,
    index: FastMap<String, usize>,
    jobs: Vec<Option<JobState>>,
}

impl Replay {
    /// A replay with room for `jobs` jobs.
    pub fn with_capacity(jobs: usize) -> Replay {
        Replay {
            state: RunState::default(),
            index: FastMap::with_capacity_and_hasher(jobs, Default::default()),
            jobs: Vec::with_capacity(jobs),
        }
    }

    /// Folds the next record.
    pub fn push(&mut self, record: Record) {
        let (index, jobs) = (&mut self.index, &mut self.jobs);
        self.state.fold(record, move |key| {
            let at = match index.get(key) {
                Some(at) => *at,
                None => {
                    index.insert(key.to_owned(), jobs.len());
                    jobs.push(Some(JobState::new(key)));
                    jobs.len() - 1
                }
            };
            jobs[at].as_mut().expect("taken only in finish")
        });
    }

    /// The state the records folded leave.
    pub fn finish(self) -> RunState {
        let Replay { mut state, index, mut jobs } = self;
        let mut sorted: Vec<(String, usize)> = index.into_iter().collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        state.jobs = sorted.into_iter().map(|(k, at)| (k, jobs[at].take().expect("one entry a key"))).collect();
        state
    }
}

impl JobState {
    /// What a record of this job changes in it (see [`RunState::apply`]); its
    /// strings move into the state.
    fn apply(&mut self, record: Record) {
        let j = self;
        match record {
            Record::Header { .. } | Record::Run { .. } => {}
            Record::Job { def, .. } => j.def = Some(def),
            Record::Intent { attempt, task_uuid, at, .. } => {
                j.attempts = j.attempts.max(attempt);
                j.task_uuid = Some(task_uuid);
                j.phase = Phase::Submitting { attempt, task_uuid };
                j.submitted_at = Some(at);
                j.error = None;
            }
            Record::Accepted { task, attempt, .. } => {
                j.task = Some(task);
                j.accepted_attempt = Some(attempt);
                j.phase = Phase::Running;
            }
            Record::NotAccepted { class, message, retryable, .. } => {
                j.error = Some(format!("{class}: {message}"));
                j.phase = if retryable { Phase::Pending } else { Phase::Failed(Failure { class, message }) };
            }
            Record::InDoubt { message, .. } => {
                j.error = Some(format!("in doubt: {message}"));
                j.phase = Phase::InDoubt { message };
            }
            Record::Clip { variant, clip, .. } => {
                let c = j.clips.entry(variant).or_default();
                c.clip = Some(clip);
            }
            Record::Downloaded { variant, file, sha256, bytes, at, .. } => {
                let c = j.clips.entry(variant).or_default();
                c.file = Some(FileRec { file, sha256, bytes, at: at.clone() });
                c.failed = None;
                if j.all_downloaded() {
                    j.phase = Phase::Done;
                    j.completed_at = Some(at);
                    j.error = None;
                } else if j.all_settled() {
                    // The last file of a job whose other variants failed: the job ends failed.
                    if let Some(failed) = j.clips.values().find_map(|c| c.failed.clone()) {
                        j.phase = Phase::Failed(failed);
                        j.completed_at = Some(at);
                    }
                }
            }
            Record::Failed { variant: None, class, message, at, .. } => {
                j.error = Some(format!("{class}: {message}"));
                j.completed_at = Some(at);
                j.phase = Phase::Failed(Failure { class, message });
            }
            Record::Failed { variant: Some(v), class, message, at, .. } => {
                j.error = Some(format!("{class}: {message}"));
                let failure = Failure { class, message };
                j.clips.entry(v).or_default().failed = Some(failure.clone());
                if j.all_settled() {
                    j.completed_at = Some(at);
                    j.phase = Phase::Failed(failure);
                }
            }
        }
    }
}
