//! The write-ahead journal (`out/state.jsonl`): one JSON record per line, appended
//! before the change it records takes effect in the world. Intents, acceptances
//! and terminal records are fsynced. Replay drops a torn last line (a crash in the
//! middle of a write) and stops with a clear error at a corrupt line elsewhere.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};

use uuid::Uuid;

use crate::catalog::Provider;
use crate::provider::{Clip, RemoteTask};

/// Bumped when records change incompatibly.
pub const JOURNAL_VERSION: u32 = 1;

/// What a job is, copied into the journal so status and report need no manifest.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JobDef {
    pub shot: String,
    pub variants: Vec<u32>,
    pub provider: Provider,
    pub model: String,
    pub resolution: String,
    pub duration: u32,
    pub fps: u32,
    pub number_results: u32,
    pub estimated_cost_usd: Option<f64>,
    /// The clip files' extension (journals from before `outputFormat` have MP4s).
    #[serde(default = "mp4")]
    pub extension: String,
    /// The result URLs' lifetime asked for (Runware `ttl`), seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u32>,
    /// Where the price of a clip came from (absent in journals written before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_source: Option<crate::plan::PriceSource>,
    /// The price of one clip at the time of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price_usd: Option<f64>,
    /// The prompt as sent (camera moves appended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The shot's version this job renders takes of (from 1; a shot edited after it
    /// rendered gets the next one, so its paid takes keep their files). Journals
    /// written before versions existed hold version 1 only.
    #[serde(default = "first_version")]
    pub version: u32,
    /// The plan's render key: jobs sharing it are takes of one version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub render_key: Option<String>,
}

fn first_version() -> u32 {
    1
}

impl JobDef {
    /// What the journal keeps of a planned job, as version `version` of its shot.
    pub fn of(job: &crate::plan::Job, version: u32) -> JobDef {
        JobDef {
            shot: job.shot_id.clone(),
            variants: job.variants.clone(),
            provider: job.provider,
            model: job.model_label(),
            resolution: job.resolution.name().to_owned(),
            duration: job.duration,
            fps: job.fps,
            number_results: job.number_results,
            estimated_cost_usd: job.estimated_cost_usd,
            version,
            render_key: Some(job.render_key.clone()),
            price_source: job.price_source,
            unit_price_usd: job.unit_price_usd,
            prompt: job.prompt.clone(),
            extension: job.extension().to_owned(),
            ttl_secs: job.ttl_secs,
        }
    }
}

/// Why a submit was not accepted, or a job or clip ended without a result: the
/// provider's error class, or one of the runner's own. Spelled in the journal and
/// the report as shotlist always spelled it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailClass {
    RateLimited,
    Transient,
    InDoubt,
    Rejected,
    ContentBlocked,
    Billing,
    Auth,
    /// The provider ran the task and it failed (not billed).
    Failed,
    /// The provider no longer knows the task (accepted, then expired).
    Gone,
    /// A clip seen could not be downloaded; a later run tries again, never resubmits.
    Download,
    /// No result by the local deadline; the remote task is kept for a later run.
    TimedOut,
}

impl FailClass {
    pub fn name(self) -> &'static str {
        match self {
            FailClass::RateLimited => "rate_limited",
            FailClass::Transient => "transient",
            FailClass::InDoubt => "in_doubt",
            FailClass::Rejected => "rejected",
            FailClass::ContentBlocked => "content_blocked",
            FailClass::Billing => "billing",
            FailClass::Auth => "auth",
            FailClass::Failed => "failed",
            FailClass::Gone => "gone",
            FailClass::Download => "download",
            FailClass::TimedOut => "timed_out",
        }
    }
}

impl std::fmt::Display for FailClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl From<&crate::provider::ErrorClass> for FailClass {
    fn from(c: &crate::provider::ErrorClass) -> FailClass {
        use crate::provider::ErrorClass as E;
        match c {
            E::RateLimited { .. } => FailClass::RateLimited,
            E::Transient => FailClass::Transient,
            E::InDoubt => FailClass::InDoubt,
            E::Rejected => FailClass::Rejected,
            E::ContentBlocked => FailClass::ContentBlocked,
            E::Billing => FailClass::Billing,
            E::Auth => FailClass::Auth,
            E::Failed => FailClass::Failed,
            E::Gone => FailClass::Gone,
        }
    }
}

fn mp4() -> String {
    "mp4".to_owned()
}

/// Declares [`Record`] as written, and beside it the same variants externally
/// tagged (`{"intent": {...}}`): serde reads an internally tagged enum (`"t"`) by
/// buffering each line into a tree of owned values first, which made replaying a
/// 100,000-job journal take seconds; reading lines whose `"t"` comes first through
/// the mirror parses each line once, straight into its fields.
macro_rules! records {
    (
        $(#[$meta:meta])*
        pub enum Record {
            $(
                $(#[$vmeta:meta])*
                $variant:ident { $($(#[$fmeta:meta])* $field:ident: $ty:ty),* $(,)? },
            )*
        }
    ) => {
        $(#[$meta])*
        pub enum Record {
            $(
                $(#[$vmeta])*
                $variant { $($(#[$fmeta])* $field: $ty),* },
            )*
        }

        /// [`Record`], externally tagged (see `records!`).
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Tagged {
            $($variant { $($(#[$fmeta])* $field: $ty),* },)*
        }

        impl From<Tagged> for Record {
            fn from(t: Tagged) -> Record {
                match t {
                    $(Tagged::$variant { $($field),* } => Record::$variant { $($field),* },)*
                }
            }
        }
    };
}

records! {
/// One line of the journal.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Record {
    /// First line: the run id every Runware `taskUUID` derives from.
    Header { v: u32, run_id: Uuid, created_at: String, tool: String },
    /// Each invocation of `shotlist run` on this folder.
    Run { at: String, pid: u32, manifest: String },
    /// A job's definition, written once before its first intent.
    Job { key: String, def: JobDef },
    /// About to send a submit (fsynced first).
    Intent { key: String, attempt: u32, task_uuid: Uuid, at: String },
    /// The provider accepted the submit (fsynced).
    Accepted { key: String, attempt: u32, task: RemoteTask, replayed: bool, at: String },
    /// The provider answered the submit without accepting it; `retryable` says
    /// whether it will be sent again.
    NotAccepted { key: String, attempt: u32, class: FailClass, message: String, retryable: bool, at: String },
    /// The submit's outcome is unknown: the task may exist and be billed (fsynced).
    InDoubt { key: String, attempt: u32, message: String, at: String },
    /// A finished clip, as the provider described it.
    Clip { key: String, variant: u32, clip: Clip, at: String },
    /// The clip's file is complete under its final name (fsynced).
    Downloaded { key: String, variant: u32, file: String, sha256: String, bytes: u64, at: String },
    /// The job (or one clip of it) ended without a result (fsynced).
    Failed { key: String, variant: Option<u32>, class: FailClass, message: String, at: String },
}
}

impl Record {
    /// The job the record is about (none for the header and a run's line).
    pub fn job_key(&self) -> Option<&str> {
        match self {
            Record::Header { .. } | Record::Run { .. } => None,
            Record::Job { key, .. }
            | Record::Intent { key, .. }
            | Record::Accepted { key, .. }
            | Record::NotAccepted { key, .. }
            | Record::InDoubt { key, .. }
            | Record::Clip { key, .. }
            | Record::Downloaded { key, .. }
            | Record::Failed { key, .. } => Some(key),
        }
    }

    /// The record's kind and job, for the log (`SHOTLIST_LOG`).
    fn describe(&self) -> (&'static str, &str) {
        match self {
            Record::Header { .. } => ("header", ""),
            Record::Run { .. } => ("run", ""),
            Record::Job { key, .. } => ("job", key),
            Record::Intent { key, .. } => ("intent", key),
            Record::Accepted { key, .. } => ("accepted", key),
            Record::NotAccepted { key, .. } => ("not_accepted", key),
            Record::InDoubt { key, .. } => ("in_doubt", key),
            Record::Clip { key, .. } => ("clip", key),
            Record::Downloaded { key, .. } => ("downloaded", key),
            Record::Failed { key, .. } => ("failed", key),
        }
    }

    /// Records that must be on disk before anything else happens.
    fn durable(&self) -> bool {
        matches!(
            self,
            Record::Header { .. }
                | Record::Intent { .. }
                | Record::Accepted { .. }
                | Record::InDoubt { .. }
                | Record::Downloaded { .. }
                | Record::Failed { .. }
        )
    }
}

/// A borrowed record, copied: `RunState::apply` and `replay` take records by value
/// (their strings move into the state) and copy the ones they are lent.
impl From<&Record> for Record {
    fn from(record: &Record) -> Record {
        record.clone()
    }
}

/// Why a journal could not be read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{path} line {line} is damaged ({reason}); nothing was changed. Move the file aside to start over, or repair the line"
    )]
    Corrupt { path: PathBuf, line: usize, reason: String },
    #[error("{path} was written by a newer shotlist (journal version {found}, this one reads {JOURNAL_VERSION})")]
    Version { path: PathBuf, found: u32 },
    #[error("{path} does not start with a journal header")]
    NoHeader { path: PathBuf },
}

/// A journal's records, and where the last whole line ends.
#[derive(Debug)]
pub struct Replayed {
    pub records: Vec<Record>,
    /// Bytes of whole lines; anything after (a torn write) is dropped on append.
    pub valid_len: u64,
    /// Whether a torn last line was dropped.
    pub torn_tail: bool,
}

/// What [`read_each`] found besides the records: how many, where the last whole
/// line ends, and whether a torn last line was dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tail {
    pub records: usize,
    /// Bytes of whole lines; anything after (a torn write) is dropped on append.
    pub valid_len: u64,
    pub torn_tail: bool,
}

/// Reads a journal. A last line that does not parse (or has no newline) is a torn
/// write and is left out; an unparsable line before the last is an error.
pub fn read(path: &Path) -> Result<Replayed, JournalError> {
    let mut records = Vec::new();
    let tail = read_each(path, |record| records.push(record))?;
    Ok(Replayed { records, valid_len: tail.valid_len, torn_tail: tail.torn_tail })
}

/// [`read`], handing each record to `each` in the journal's order instead of
/// keeping them: a replay folds a block's records while the next blocks parse, so
/// neither the file nor its records are ever in memory whole. At 100,000 jobs the
/// two were some 270 MB, each touched once: page faults and frees were about half
/// of the replay's time, and its peak was 430 MB where the state is under 300.
pub fn read_each(path: &Path, each: impl FnMut(Record)) -> Result<Tail, JournalError> {
    let file = File::open(path).map_err(|source| JournalError::Io { path: path.to_path_buf(), source })?;
    let len = file.metadata().map_or(0, |m| m.len());
    // Parsing is most of the time: a large journal's blocks parse on one thread a
    // core while this one reads the file and hands the records on in order.
    let workers =
        if len < PARALLEL_FROM { 0 } else { std::thread::available_parallelism().map_or(1, |n| n.get()).min(8) };
    read_blocks(path, file, BLOCK, workers, each)
}

/// The journal size from which `read_each` parses on other threads (a thread
/// costs some tens of microseconds; a megabyte of records some milliseconds).
const PARALLEL_FROM: u64 = 1 << 20;

/// The bytes a block of lines is read in, for a worker to parse (some 3,500
/// records; at most two blocks a worker are read ahead of the fold).
const BLOCK: usize = 1 << 20;

/// [`read_each`] of `file`, in blocks of about `block` bytes cut after a line's
/// end, parsed by `workers` threads (none: here, in one piece).
fn read_blocks(
    path: &Path,
    mut file: impl Read,
    block: usize,
    workers: usize,
    each: impl FnMut(Record),
) -> Result<Tail, JournalError> {
    let io_err = |source| JournalError::Io { path: path.to_path_buf(), source };
    let mut joined = Joined { path, each, tail: Tail::default(), lines_before: 0 };
    if workers == 0 {
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_err)?;
        joined.take(read_lines(&bytes))?;
        return Ok(joined.tail);
    }
    // Blocks go out numbered, and their records are joined in that order.
    let (to_parse, blocks) = mpsc::sync_channel::<(usize, Vec<u8>)>(workers);
    let blocks = Mutex::new(blocks);
    let (to_join, parsed) = mpsc::channel::<(usize, Lines)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (blocks, to_join) = (&blocks, to_join.clone());
            scope.spawn(move || {
                // The lock is held while waiting for a block, never while parsing one.
                while let Ok((n, bytes)) = blocks.lock().map_err(drop).and_then(|b| b.recv().map_err(drop)) {
                    if to_join.send((n, read_lines(&bytes))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(to_join);
        // Leaving this closure drops the sender: the workers end their loops.
        let to_parse = to_parse;
        // A worker that panicked drops its sender; the scope re-raises its panic.
        let stopped = || io_err(io::Error::other("a journal reader thread stopped"));
        let mut ahead: BTreeMap<usize, Lines> = BTreeMap::new();
        let (mut sent, mut done, mut eof) = (0usize, 0usize, false);
        let mut rest = Vec::new();
        loop {
            // Every worker busy and a block waiting for each, and no more read ahead.
            while !eof && sent - done < 2 * workers {
                let mut bytes = std::mem::take(&mut rest);
                bytes.reserve(block);
                eof = (&mut file).take(block as u64).read_to_end(&mut bytes).map_err(io_err)? == 0;
                if !eof {
                    // A block ends after its last newline; the rest begins the next.
                    let Some(nl) = bytes.iter().rposition(|b| *b == b'\n') else {
                        rest = bytes;
                        continue;
                    };
                    rest = bytes.split_off(nl + 1);
                }
                if !bytes.is_empty() {
                    to_parse.send((sent, bytes)).map_err(|_| stopped())?;
                    sent += 1;
                }
            }
            if done == sent {
                return Ok(joined.tail);
            }
            let (n, lines) = parsed.recv().map_err(|_| stopped())?;
            ahead.insert(n, lines);
            while let Some(lines) = ahead.remove(&done) {
                joined.take(lines)?;
                done += 1;
            }
        }
    })
}

/// The parts of a journal read so far, joined in order: each record handed on,
/// the first checked to be a header this shotlist reads, and a damaged line
/// named by its line in the file (a part's first line follows the lines before).
struct Joined<'p, F> {
    path: &'p Path,
    each: F,
    tail: Tail,
    lines_before: usize,
}

impl<F: FnMut(Record)> Joined<'_, F> {
    /// Hands on `part`'s records. A header newer than this shotlist is named before
    /// a line that does not parse (it may be a record this one does not know).
    fn take(&mut self, part: Lines) -> Result<(), JournalError> {
        let path = || self.path.to_path_buf();
        for record in part.records {
            if self.tail.records == 0 {
                match &record {
                    Record::Header { v, .. } if *v > JOURNAL_VERSION => {
                        return Err(JournalError::Version { path: path(), found: *v });
                    }
                    Record::Header { .. } => {}
                    _ => return Err(JournalError::NoHeader { path: path() }),
                }
            }
            self.tail.records += 1;
            (self.each)(record);
        }
        if let Some((line, reason)) = part.corrupt {
            return Err(JournalError::Corrupt { path: path(), line: self.lines_before + line, reason });
        }
        self.tail.valid_len += part.valid_len;
        self.tail.torn_tail |= part.torn_tail;
        self.lines_before += part.lines;
        Ok(())
    }
}

/// What one part of a journal holds: its records, its lines and the bytes of the
/// whole ones, and the first damaged line (numbered from 1 within the part).
#[derive(Default)]
struct Lines {
    records: Vec<Record>,
    lines: usize,
    valid_len: u64,
    torn_tail: bool,
    corrupt: Option<(usize, String)>,
}

/// Reads the lines of one part of a journal (see [`read`]): only the file's last
/// line can lack its newline, so only the last part can have a torn tail.
fn read_lines(bytes: &[u8]) -> Lines {
    let mut out = Lines { records: Vec::with_capacity(bytes.len() / 160), ..Lines::default() };
    let mut scratch = Vec::new();
    for (index, line) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
        out.lines = index + 1;
        let n = line.len();
        // Every record is written as one line ending in a newline; only the last
        // line can lack it, and only when a write was cut short.
        let complete = line.ends_with(b"\n");
        if complete && let Some(record) = parse_written(line.trim_ascii_end(), &mut scratch) {
            out.records.push(record);
            out.valid_len += n as u64;
            continue;
        }
        let text = String::from_utf8_lossy(line);
        if text.trim().is_empty() && complete {
            out.valid_len += n as u64;
            continue;
        }
        match serde_json::from_str::<Record>(text.trim_end()) {
            Ok(record) if complete => {
                out.records.push(record);
                out.valid_len += n as u64;
            }
            Err(e) if complete => {
                out.corrupt = Some((index + 1, e.to_string()));
                return out;
            }
            _ => out.torn_tail = true,
        }
    }
    out
}

/// A line as shotlist writes it, `{"t":"<kind>",<fields>}`, read through the
/// externally tagged mirror as `{"<kind>":{<fields>}}` (see `records!`). `None` for
/// any other shape (a hand-edited line, a blank one, an error): the caller then
/// reads it the general way, which also words the error.
fn parse_written(line: &[u8], scratch: &mut Vec<u8>) -> Option<Record> {
    let rest = line.strip_prefix(b"{\"t\":\"")?;
    let end = rest.iter().position(|b| *b == b'"')?;
    let (kind, fields) = (&rest[..end], rest[end + 1..].strip_prefix(b",")?);
    if kind.contains(&b'\\') {
        return None;
    }
    scratch.clear();
    scratch.extend_from_slice(b"{\"");
    scratch.extend_from_slice(kind);
    scratch.extend_from_slice(b"\":{");
    scratch.extend_from_slice(fields);
    scratch.push(b'}');
    serde_json::from_slice::<Tagged>(scratch).ok().map(Record::from)
}

/// The open journal, appending.
pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    /// Opens for appending after `valid_len` bytes (cutting a torn tail), creating
    /// the file when it does not exist.
    pub fn open(path: &Path, valid_len: u64) -> io::Result<Journal> {
        let mut file = OpenOptions::new().create(true).read(true).write(true).truncate(false).open(path)?;
        if file.metadata()?.len() != valid_len {
            file.set_len(valid_len)?;
            file.sync_all()?;
        }
        file.seek(SeekFrom::End(0))?;
        Ok(Journal { file, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as one write of one line; fsyncs the records that must
    /// be durable before the world changes.
    pub fn append(&mut self, record: &Record) -> io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        let (kind, key) = record.describe();
        tracing::debug!(kind, job = key, "journal record");
        if record.durable() {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Flushes everything (at exit).
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Now, RFC 3339 UTC (the report's and journal's time format).
pub fn now() -> String {
    jiff::Timestamp::now().round(jiff::Unit::Millisecond).map(|t| t.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Record {
        Record::Header { v: 1, run_id: Uuid::nil(), created_at: now(), tool: "test".into() }
    }

    #[test]
    fn a_job_record_written_before_prices_and_prompts_still_reads() {
        let old = r#"{"t":"job","key":"k","def":{"shot":"a","variants":[1],"provider":"minimax","model":"S2V-01","resolution":"720p","duration":6,"fps":25,"number_results":1,"estimated_cost_usd":null}}"#;
        match serde_json::from_str::<Record>(old).unwrap() {
            Record::Job { def, .. } => {
                assert_eq!((def.price_source, def.unit_price_usd, def.prompt), (None, None, None));
            }
            other => panic!("{other:?}"),
        }
    }

    /// One record of every kind, with every optional field set.
    fn every_kind() -> Vec<Record> {
        use crate::provider::{Clip, RemoteTask};
        let def = JobDef {
            shot: "a".into(),
            variants: vec![1, 2],
            provider: Provider::Segmind,
            model: "m".into(),
            resolution: "1080p".into(),
            duration: 6,
            fps: 25,
            number_results: 2,
            estimated_cost_usd: Some(0.5),
            extension: "webm".into(),
            ttl_secs: Some(3600),
            price_source: Some(crate::plan::PriceSource::Manifest),
            unit_price_usd: Some(0.25),
            prompt: Some("a \"quoted\" prompt\nwith a newline".into()),
            version: 2,
            render_key: Some("r".into()),
        };
        let task = RemoteTask {
            id: "t1".into(),
            status_url: Some("http://127.0.0.1/s".into()),
            response_url: Some("http://127.0.0.1/r".into()),
            ..Default::default()
        };
        let clip = Clip {
            video_url: "http://127.0.0.1/v.mp4".into(),
            remote_id: "v1".into(),
            seed: Some(7),
            cost_usd: Some(0.1),
            width: Some(1920),
            height: Some(1080),
            usage_secs: Some(6.0),
            list_cost_usd: Some(0.2),
            nsfw: Some(false),
        };
        let (key, at) = (String::from("k"), now());
        vec![
            header(),
            Record::Run { at: at.clone(), pid: 7, manifest: "m.yaml".into() },
            Record::Job { key: key.clone(), def },
            Record::Intent { key: key.clone(), attempt: 1, task_uuid: Uuid::nil(), at: at.clone() },
            Record::Accepted { key: key.clone(), attempt: 1, task, replayed: true, at: at.clone() },
            Record::NotAccepted {
                key: key.clone(),
                attempt: 2,
                class: FailClass::RateLimited,
                message: "slow down".into(),
                retryable: true,
                at: at.clone(),
            },
            Record::InDoubt { key: key.clone(), attempt: 3, message: "cut".into(), at: at.clone() },
            Record::Clip { key: key.clone(), variant: 1, clip, at: at.clone() },
            Record::Downloaded {
                key: key.clone(),
                variant: 1,
                file: "a/a_1.mp4".into(),
                sha256: "00".into(),
                bytes: 9,
                at: at.clone(),
            },
            Record::Failed {
                key: key.clone(),
                variant: Some(2),
                class: FailClass::Gone,
                message: "x".into(),
                at: at.clone(),
            },
            Record::Failed { key, variant: None, class: FailClass::TimedOut, message: "y".into(), at },
        ]
    }

    #[test]
    fn every_kind_of_record_reads_back_as_written_by_the_fast_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.jsonl");
        let mut j = Journal::open(&path, 0).unwrap();
        let written = every_kind();
        for r in &written {
            j.append(r).unwrap();
            let line = serde_json::to_vec(r).unwrap();
            let fast = parse_written(&line, &mut Vec::new());
            assert_eq!(fast.as_ref(), Some(r), "the mirror reads {}", String::from_utf8_lossy(&line));
        }
        assert_eq!(read(&path).unwrap().records, written);
    }

    #[test]
    fn a_line_whose_kind_is_not_first_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.jsonl");
        let mut j = Journal::open(&path, 0).unwrap();
        j.append(&header()).unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"pid\":3,\"t\":\"run\",\"at\":\"x\",\"manifest\":\"m\"}\n\n  \n").unwrap();
        let r = read(&path).unwrap();
        assert_eq!(r.records[1], Record::Run { at: "x".into(), pid: 3, manifest: "m".into() });
        assert_eq!(r.valid_len, std::fs::metadata(&path).unwrap().len());
    }

    /// A journal of `n` runs' lines after its header, and its bytes.
    fn journal_of(n: usize, dir: &Path) -> (PathBuf, Vec<u8>) {
        let path = dir.join("state.jsonl");
        let mut j = Journal::open(&path, 0).unwrap();
        j.append(&header()).unwrap();
        for pid in 0..n as u32 {
            j.append(&Record::Run { at: format!("t{pid}"), pid, manifest: "m".repeat(pid as usize % 7) }).unwrap();
        }
        let bytes = std::fs::read(&path).unwrap();
        (path, bytes)
    }

    /// [`read_blocks`] of `bytes` in blocks of `block` bytes on `workers` threads.
    fn read_in(path: &Path, bytes: &[u8], block: usize, workers: usize) -> Result<Replayed, JournalError> {
        let mut records = Vec::new();
        let tail = read_blocks(path, bytes, block, workers, |r| records.push(r))?;
        assert_eq!(tail.records, records.len());
        Ok(Replayed { records, valid_len: tail.valid_len, torn_tail: tail.torn_tail })
    }

    /// Block sizes from a byte (every line cut across blocks) to the whole file.
    const BLOCKS: [usize; 5] = [1, 7, 64, 1000, BLOCK];

    #[test]
    fn a_journal_read_in_blocks_on_threads_reads_as_in_one() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut bytes) = journal_of(40, dir.path());
        bytes.extend_from_slice(b"\n{\"t\":\"run\",\"at\":\"cut");
        let whole = read_in(&path, &bytes, BLOCK, 0).unwrap();
        assert_eq!(whole.records.len(), 41);
        assert!(whole.torn_tail);
        assert_eq!(whole.valid_len, bytes.len() as u64 - 20, "the blank line is whole, the cut one is not");
        for (block, workers) in BLOCKS.into_iter().flat_map(|b| [(b, 1), (b, 2), (b, 5)]) {
            let r = read_in(&path, &bytes, block, workers).unwrap();
            assert_eq!(r.records, whole.records, "{block}-byte blocks, {workers} workers");
            assert_eq!((r.valid_len, r.torn_tail), (whole.valid_len, whole.torn_tail), "{block} bytes, {workers}");
        }
    }

    #[test]
    fn a_damaged_line_read_in_blocks_is_named_by_its_line_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (path, bytes) = journal_of(40, dir.path());
        // Line 31 (the header is line 1) damaged, and line 36 too: the first is named.
        let mut lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
        lines[30] = b"garbage\n";
        lines[35] = b"{\n";
        let bytes = lines.concat();
        for (block, workers) in BLOCKS.into_iter().flat_map(|b| [(b, 0), (b, 1), (b, 3)]) {
            match read_in(&path, &bytes, block, workers) {
                Err(JournalError::Corrupt { line, .. }) => assert_eq!(line, 31, "{block} bytes, {workers}"),
                other => panic!("{block}-byte blocks, {workers} workers: {other:?}"),
            }
        }
    }

    #[test]
    fn a_journal_from_a_newer_shotlist_is_named_so_even_when_its_records_do_not_parse() {
        let dir = tempfile::tempdir().unwrap();
        let (path, bytes) = journal_of(3, dir.path());
        let newer = String::from_utf8(bytes).unwrap().replacen("\"v\":1", "\"v\":2", 1) + "{\"t\":\"future\"}\n";
        for (block, workers) in [(BLOCK, 0), (7, 2)] {
            match read_in(&path, newer.as_bytes(), block, workers) {
                Err(JournalError::Version { found: 2, .. }) => {}
                other => panic!("{block} bytes, {workers} workers: {other:?}"),
            }
        }
        match read_in(&path, b"{\"t\":\"run\",\"at\":\"x\",\"pid\":1,\"manifest\":\"m\"}\n", 7, 2) {
            Err(JournalError::NoHeader { .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn appended_records_replay_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.jsonl");
        let mut j = Journal::open(&path, 0).unwrap();
        j.append(&header()).unwrap();
        let intent = Record::Intent { key: "k".into(), attempt: 1, task_uuid: Uuid::nil(), at: now() };
        j.append(&intent).unwrap();
        let r = read(&path).unwrap();
        assert_eq!(r.records.len(), 2);
        assert_eq!(r.records[1], intent);
        assert!(!r.torn_tail);
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_cut_on_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.jsonl");
        let mut j = Journal::open(&path, 0).unwrap();
        j.append(&header()).unwrap();
        drop(j);
        let whole = std::fs::metadata(&path).unwrap().len();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"t\":\"intent\",\"key\":\"k\",\"att").unwrap();
        let r = read(&path).unwrap();
        assert!(r.torn_tail);
        assert_eq!(r.records.len(), 1);
        assert_eq!(r.valid_len, whole);
        let mut j = Journal::open(&path, r.valid_len).unwrap();
        j.append(&Record::Run { at: now(), pid: 1, manifest: "m".into() }).unwrap();
        let again = read(&path).unwrap();
        assert_eq!(again.records.len(), 2);
        assert!(!again.torn_tail);
    }

    #[test]
    fn a_corrupt_middle_line_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.jsonl");
        let mut j = Journal::open(&path, 0).unwrap();
        j.append(&header()).unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"garbage\n{\"t\":\"run\",\"at\":\"x\",\"pid\":1,\"manifest\":\"m\"}\n").unwrap();
        let before = std::fs::read(&path).unwrap();
        match read(&path) {
            Err(JournalError::Corrupt { line, .. }) => assert_eq!(line, 2),
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), before, "reading changes nothing");
    }
}
