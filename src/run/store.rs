//! Where a run's state lives and how runners coordinate: the one interface the
//! dispatcher writes through. The file journal (`out/state.jsonl` + `run.lock`) is the
//! default and needs nothing installed; `--state postgres://...` (or `SHOTLIST_STATE`)
//! keeps a campaign in PostgreSQL so several machines share it and one provider
//! account (see DESIGN "Beyond one machine").

pub mod pg;

use std::io;
use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::journal::{self, Journal, Record};
use super::lock::{self, RunLock};
use super::state::RunState;
use crate::catalog::Provider;

/// What a claim of a job for a submit (or a take-over) found.
#[derive(Debug)]
pub enum Claim {
    /// This runner holds the job; the intent (if any) is written.
    Granted,
    /// Another live runner holds the job: leave it alone.
    Elsewhere(String),
    /// This runner now holds a job another runner moved on since this one read the
    /// campaign: its records, to replace what this runner knew of it. Nothing was written.
    Adopt(Vec<Record>),
    /// The account has as many jobs in flight as it allows, counting every runner's:
    /// try again later.
    AccountFull,
    /// The intent would take the campaign (every runner's jobs) past its budget:
    /// nothing was written. `committed_usd` is what the campaign may be billed already.
    OverBudget { committed_usd: f64 },
}

/// An account's in-flight limit, checked when a job is claimed for a submit.
#[derive(Clone, Copy, Debug)]
pub struct InFlight<'a> {
    pub account: &'a AccountKey,
    pub max: u32,
}

/// Who holds a job read at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// This runner (or nobody else): resume it as usual.
    Mine,
    /// Another runner whose lease is alive.
    Live(String),
    /// Another runner whose lease ran out (it died or stopped): the job may be taken over.
    Dead(String),
}

/// The account a provider's limits belong to: provider, base URL and a fingerprint
/// of the key (never the key).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccountKey(pub String);

impl AccountKey {
    pub fn new(provider: Provider, base_url: &str, api_key: &str) -> AccountKey {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(api_key.as_bytes());
        let fingerprint = hex::encode(&digest[..8]);
        AccountKey(format!("{provider} {} {fingerprint}", base_url.trim_end_matches('/')))
    }
}

/// A submit pace shared by every runner on one account (a GCRA row and a cooldown).
pub trait Pace: Send + Sync {
    /// Waits for the account's cooldown and a submit token. An unreachable store
    /// lets the submit go on: its intent cannot be written then, so nothing is sent.
    fn before_submit(&self) -> BoxFuture<'_, ()>;
    /// A rate-limited answer: every runner on the account waits `retry_after` (else
    /// a few of the account's intervals) from now.
    fn cool_down(&self, retry_after: Option<std::time::Duration>) -> BoxFuture<'_, ()>;
}

/// The run's state and coordination, as the dispatcher uses them.
pub trait Store: Send {
    /// What to name in messages (a path, or a URL without its password).
    fn describe(&self) -> String;
    /// Appends a record; durable records are stored before this returns.
    fn append(&mut self, record: &Record) -> io::Result<()>;
    /// Claims the job and writes its intent in one step (one transaction in a
    /// database): `idempotent` providers may be sent the same intent again.
    fn intent(&mut self, record: &Record, _idempotent: bool) -> io::Result<Claim> {
        self.append(record)?;
        Ok(Claim::Granted)
    }
    /// Claims the job (for a submit: within the account's in-flight limit).
    fn claim(&mut self, _key: &str, _limit: Option<InFlight<'_>>) -> io::Result<Claim> {
        Ok(Claim::Granted)
    }
    /// Who holds the job, as read at start.
    fn holder(&self, _key: &str) -> Holder {
        Holder::Mine
    }
    /// Jobs whose runner died (lease expired), now held by this one, with their records.
    fn adopt(&mut self) -> io::Result<Vec<(String, Vec<Record>)>> {
        Ok(Vec::new())
    }
    /// The records of these jobs (held by other runners), in order, to follow them.
    fn records_of_jobs(&mut self, _keys: &[String]) -> io::Result<Vec<Record>> {
        Ok(Vec::new())
    }
    /// The account's shared pace, when runners share one.
    fn pace(&self, _account: &AccountKey, _per_minute: u32, _time_scale: f64) -> Option<Arc<dyn Pace>> {
        None
    }
    /// The machine that downloaded the clip, else the one holding its job (a store
    /// shared by runners; the folder's names none: one folder, one runner).
    fn machine_of(&self, _key: &str, _variant: u32) -> Option<String> {
        None
    }
    /// The budget this runner keeps: a store shared by runners checks it over the
    /// whole campaign in the transaction that writes each intent (refusing it with
    /// [`Claim::OverBudget`]); the folder's store leaves it to the dispatcher's sum.
    fn keep_budget(&mut self, _max_usd: f64) {}
    /// Flushes everything (at exit).
    fn sync(&mut self) -> io::Result<()>;
}

/// Where the state lives, from `--state` / `SHOTLIST_STATE`.
#[derive(Clone, Debug, PartialEq)]
pub enum StateSpec {
    /// The out folder's journal (the default).
    Folder,
    Postgres(String),
}

impl StateSpec {
    /// `None` or empty: the folder; `postgres://` or `postgresql://`: a database.
    pub fn parse(arg: Option<&str>) -> Result<StateSpec, String> {
        match arg.map(str::trim) {
            None | Some("") => Ok(StateSpec::Folder),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(StateSpec::Postgres(url.to_owned()))
            }
            Some(other) => Err(format!(
                "--state: `{}` is not a postgres:// URL (leave it out to keep the state in the out folder)",
                elide_password(other)
            )),
        }
    }
}

/// The URL with its password replaced by `***`, for messages.
pub fn elide_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        // Not a URL we can read: say nothing of what follows the scheme's user part.
        Err(_) => match url.find('@') {
            Some(at) => format!("***{}", &url[at..]),
            None => url.to_owned(),
        },
    }
}

/// A command-line argument as it may be shown: a postgres URL (alone or after
/// `--state=`) without its password.
pub fn elide_password_in_arg(arg: &str) -> String {
    let (flag, value) = arg.split_once('=').filter(|(f, _)| f.starts_with("--")).unwrap_or(("", arg));
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        let shown = elide_password(value);
        if flag.is_empty() { shown } else { format!("{flag}={shown}") }
    } else {
        arg.to_owned()
    }
}

/// The file journal and the out folder's lock: one runner per folder.
pub struct FileStore {
    _lock: RunLock,
    journal: Journal,
}

impl FileStore {
    /// Locks the folder and replays its journal (cutting a torn tail on the first
    /// append), writing the header on a first run. Also says whether a torn last
    /// line was dropped.
    pub fn open(out: &Path) -> Result<(FileStore, RunState, bool), String> {
        let lock = lock::acquire(out).map_err(|e| e.to_string())?;
        if let Some(prev) = &lock.previous_holder {
            tracing::debug!("took over the lock last held by {prev}");
        }
        super::download::remove_partials(out);
        let path = out.join("state.jsonl");
        let (mut state, tail) = if path.exists() {
            RunState::read(&path).map_err(|e| e.to_string())?
        } else {
            (RunState::default(), journal::Tail::default())
        };
        let io = |e: io::Error| format!("cannot write the journal {}: {e}", path.display());
        let mut journal = Journal::open(&path, tail.valid_len).map_err(io)?;
        if tail.records == 0 {
            let header = header();
            journal.append(&header).map_err(io)?;
            state.apply(header);
        }
        Ok((FileStore { _lock: lock, journal }, state, tail.torn_tail))
    }
}

/// A new campaign's first record.
pub fn header() -> Record {
    Record::Header {
        v: journal::JOURNAL_VERSION,
        run_id: uuid::Uuid::new_v4(),
        created_at: journal::now(),
        tool: format!("shotlist {}", env!("CARGO_PKG_VERSION")),
    }
}

impl Store for FileStore {
    fn describe(&self) -> String {
        self.journal.path().display().to_string()
    }
    fn append(&mut self, record: &Record) -> io::Result<()> {
        self.journal.append(record)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.journal.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_shows_in_a_described_url() {
        let shown = elide_password("postgres://render:hunter2@db.studio:5432/shotlist");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("render") && shown.contains("db.studio:5432"), "{shown}");
        assert!(!elide_password("postgres://a:hunter2@[bad").contains("hunter2"));
    }

    #[test]
    fn the_account_key_names_provider_and_url_never_the_key() {
        use crate::catalog::Provider::{Minimax, Runware};
        let a = AccountKey::new(Runware, "http://127.0.0.1:9/v1/", "rw-SECRET-1");
        let b = AccountKey::new(Runware, "http://127.0.0.1:9/v1", "rw-SECRET-2");
        assert_ne!(
            a,
            AccountKey::new(Minimax, "http://127.0.0.1:9/v1/", "rw-SECRET-1"),
            "one key on two providers is two accounts"
        );
        assert!(!a.0.contains("SECRET"), "{}", a.0);
        assert_ne!(a, b, "two keys are two accounts");
        assert_eq!(a, AccountKey::new(Runware, "http://127.0.0.1:9/v1", "rw-SECRET-1"));
    }

    #[test]
    fn state_urls_are_postgres_or_nothing() {
        assert_eq!(StateSpec::parse(None), Ok(StateSpec::Folder));
        assert!(matches!(StateSpec::parse(Some("postgres://h/db")), Ok(StateSpec::Postgres(_))));
        let e = StateSpec::parse(Some("mysql://u:pw@h/db")).unwrap_err();
        assert!(!e.contains("pw@"), "{e}");
    }
}
