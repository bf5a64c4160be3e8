//! The PostgreSQL store: a campaign's records in one table, jobs claimed under
//! leases, intents unique per (job, attempt) written only by the claim's holder in
//! one statement, per account one GCRA row with a cooldown timestamp, per job what
//! it may be billed (the campaign's budget), and TLS when the URL asks. The
//! dispatcher is synchronous; calls block the calling worker thread of the
//! (multi-threaded) runtime while the driver runs on it.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio_postgres::{Client, NoTls};

use super::{AccountKey, Claim, Holder, InFlight, Pace, Store, elide_password};
use crate::run::budget;
use crate::run::journal::Record;
use crate::run::state::RunState;

/// The schema this shotlist writes; a database holding a higher one is refused.
pub const SCHEMA_VERSION: i32 = 2;

/// Each step takes the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE shotlist_campaigns (
    id text PRIMARY KEY,
    run_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE shotlist_records (
    seq bigserial PRIMARY KEY,
    campaign text NOT NULL REFERENCES shotlist_campaigns (id),
    machine text NOT NULL,
    job_key text,
    body jsonb NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shotlist_records_job ON shotlist_records (campaign, job_key, seq);
CREATE TABLE shotlist_claims (
    campaign text NOT NULL,
    job_key text NOT NULL,
    machine text NOT NULL,
    lease_until timestamptz NOT NULL,
    -- The account the job is sent on, and whether it counts against the account's
    -- in-flight limit (claimed for a submit, not settled yet).
    account text NOT NULL DEFAULT '',
    in_flight boolean NOT NULL DEFAULT false,
    PRIMARY KEY (campaign, job_key)
);
CREATE INDEX shotlist_claims_in_flight ON shotlist_claims (account) WHERE in_flight;
CREATE TABLE shotlist_intents (
    campaign text NOT NULL,
    job_key text NOT NULL,
    attempt integer NOT NULL,
    machine text NOT NULL,
    task_uuid uuid NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign, job_key, attempt)
);
CREATE TABLE shotlist_accounts (
    account text PRIMARY KEY,
    tat timestamptz NOT NULL DEFAULT now(),
    cooldown_until timestamptz NOT NULL DEFAULT now()
);
"#,
    r#"
-- Per job, what it may be billed at most (run::budget::committed_usd), written with
-- each of its records by the runner that holds it: the campaign's budget is the sum,
-- checked under the campaign's row lock when an intent is written.
CREATE TABLE shotlist_spend (
    campaign text NOT NULL,
    job_key text NOT NULL,
    committed_usd double precision NOT NULL,
    PRIMARY KEY (campaign, job_key)
);
"#,
];

/// Writes an intent if the claim is still this runner's (renewing it) and the intent
/// is new for (job, attempt) (or the same idempotent one again), with its record and
/// the job's committed cost; else nothing. Answers how many intents were written.
const INTENT: &str = "\
    WITH c AS (UPDATE shotlist_claims SET lease_until = now() + make_interval(secs => $7) \
               WHERE campaign = $1 AND job_key = $2 AND machine = $3 RETURNING 1), \
         i AS (INSERT INTO shotlist_intents (campaign, job_key, attempt, machine, task_uuid) \
               SELECT $1, $2, $4, $3, $5 FROM c \
               ON CONFLICT (campaign, job_key, attempt) DO UPDATE SET machine = EXCLUDED.machine, at = now() \
               WHERE $6 AND shotlist_intents.task_uuid = EXCLUDED.task_uuid RETURNING 1), \
         r AS (INSERT INTO shotlist_records (campaign, machine, job_key, body) \
               SELECT $1, $3, $2, $8 FROM i RETURNING 1), \
         s AS (INSERT INTO shotlist_spend (campaign, job_key, committed_usd) \
               SELECT $1, $2, $9 FROM r \
               ON CONFLICT (campaign, job_key) DO UPDATE SET committed_usd = EXCLUDED.committed_usd RETURNING 1) \
    SELECT count(*) FROM s";

/// Why the database could not be used at start (exit 2; the URL without its password).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot reach the state database at {url}: {why}")]
    Unreachable { url: String, why: String },
    #[error(
        "the state database at {url} refused the login ({why}); check the user and password in --state / SHOTLIST_STATE"
    )]
    Login { url: String, why: String },
    #[error(
        "the state database at {url} holds shotlist schema version {found}; this shotlist knows up to {SCHEMA_VERSION}. Upgrade shotlist on this machine"
    )]
    Newer { url: String, found: i32 },
    #[error("the state database at {url}: {why}")]
    Other { url: String, why: String },
}

/// How long a claim lives without a heartbeat (`SHOTLIST_LEASE_SECS`, for tests).
fn lease_secs() -> f64 {
    std::env::var("SHOTLIST_LEASE_SECS").ok().and_then(|s| s.parse().ok()).filter(|s: &f64| *s > 0.0).unwrap_or(30.0)
}

/// This runner's name in the campaign: `SHOTLIST_MACHINE`, else host and out folder
/// (stable across restarts, distinct for two runners on one host).
pub fn machine_name(out: &std::path::Path) -> String {
    if let Ok(m) = std::env::var("SHOTLIST_MACHINE")
        && !m.trim().is_empty()
    {
        return m.trim().to_owned();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let out = std::fs::canonicalize(out).or_else(|_| std::path::absolute(out)).unwrap_or_else(|_| out.to_path_buf());
    format!("{host}:{}", out.display())
}

fn classify(url: &str, e: tokio_postgres::Error) -> OpenError {
    let url = elide_password(url);
    let why = match (e.as_db_error(), std::error::Error::source(&e)) {
        (Some(d), _) => d.message().to_owned(),
        (None, Some(cause)) => format!("{e}: {cause}"),
        (None, None) => e.to_string(),
    };
    match e.code().map(|c| c.code()) {
        // invalid_password, invalid_authorization_specification
        Some("28P01" | "28000") => OpenError::Login { url, why },
        Some(_) => OpenError::Other { url, why },
        None if why.contains("invalid peer certificate") => OpenError::Unreachable {
            url,
            why: format!("{why} (give the authority that signed the server's certificate as sslrootcert=FILE)"),
        },
        None => OpenError::Unreachable { url, why },
    }
}

async fn connect(url: &str) -> Result<(Arc<Client>, Arc<AtomicBool>), OpenError> {
    let (url_read, tls) = tls_for(url)?;
    let mut config: tokio_postgres::Config = url_read
        .parse()
        .map_err(|e: tokio_postgres::Error| OpenError::Other { url: elide_password(url), why: e.to_string() })?;
    config.connect_timeout(Duration::from_secs(5));
    config.application_name("shotlist");
    let (client, lost) = match tls {
        None => {
            let (client, connection) = config.connect(NoTls).await.map_err(|e| classify(url, e))?;
            (client, watch(connection))
        }
        Some(tls) => {
            let (client, connection) = config.connect(tls).await.map_err(|e| classify(url, e))?;
            (client, watch(connection))
        }
    };
    Ok((Arc::new(client), lost))
}

/// Drives the connection; the flag says when it is lost.
fn watch<S, T>(connection: tokio_postgres::Connection<S, T>) -> Arc<AtomicBool>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let lost = Arc::new(AtomicBool::new(false));
    let flag = lost.clone();
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!("state database connection lost: {e}");
        }
        flag.store(true, Ordering::SeqCst);
    });
    lost
}

/// The URL as the driver reads it, and the TLS to speak. `sslmode=require` (or libpq's
/// `verify-ca`, `verify-full`) is TLS with the server's certificate verified, always
/// (stricter than libpq's `require`): against `sslrootcert=FILE` (PEM), else the
/// system's trust store, as for the providers' HTTPS. Without them: no TLS, as before.
fn tls_for(url: &str) -> Result<(String, Option<tokio_postgres_rustls::MakeRustlsConnect>), OpenError> {
    let Ok(mut parsed) = url::Url::parse(url) else { return Ok((url.to_owned(), None)) };
    let asks = |k: &str| parsed.query_pairs().any(|(key, _)| key == k);
    if !asks("sslmode") && !asks("sslrootcert") {
        return Ok((url.to_owned(), None));
    }
    let (mut tls, mut root) = (false, None);
    let mut pairs = Vec::new();
    for (k, v) in parsed.query_pairs() {
        match (&*k, &*v) {
            ("sslrootcert", file) => root = Some(std::path::PathBuf::from(file)),
            ("sslmode", "require" | "verify-ca" | "verify-full") => {
                tls = true;
                pairs.push((k.into_owned(), "require".to_owned()));
            }
            _ => pairs.push((k.into_owned(), v.into_owned())),
        }
    }
    parsed.set_query(None);
    if !pairs.is_empty() {
        parsed.query_pairs_mut().extend_pairs(pairs);
    }
    let fail = |why: String| OpenError::Other { url: elide_password(url), why };
    if !tls {
        if root.is_some() {
            return Err(fail("sslrootcert is given without sslmode=require (or verify-full)".into()));
        }
        return Ok((parsed.to_string(), None));
    }
    // One provider, named: the process may hold more than one (rustls then picks none).
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(format!("TLS: {e}")))?;
    let config = match root {
        Some(file) => {
            use rustls::pki_types::{CertificateDer, pem::PemObject};
            let shown = file.display().to_string();
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(&file)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| fail(format!("cannot read the sslrootcert {shown}: {e}")))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(fail(format!("the sslrootcert {shown} holds no certificate")));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => {
            use rustls_platform_verifier::BuilderVerifierExt;
            builder.with_platform_verifier().map_err(|e| fail(format!("TLS: {e}")))?.with_no_client_auth()
        }
    };
    Ok((parsed.to_string(), Some(tokio_postgres_rustls::MakeRustlsConnect::new(config))))
}

/// Brings the schema up to [`SCHEMA_VERSION`] under an advisory lock (two runners
/// starting at once migrate once); a newer schema is refused.
async fn migrate(client: &Client, url: &str) -> Result<(), OpenError> {
    let err = |e| classify(url, e);
    client
        .batch_execute(
            "BEGIN; SELECT pg_advisory_xact_lock(7715604); \
             CREATE TABLE IF NOT EXISTS shotlist_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL); \
             INSERT INTO shotlist_schema VALUES (1, 0) ON CONFLICT DO NOTHING;",
        )
        .await
        .map_err(err)?;
    let found: i32 = client.query_one("SELECT version FROM shotlist_schema", &[]).await.map_err(err)?.get(0);
    if found > SCHEMA_VERSION {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(OpenError::Newer { url: elide_password(url), found });
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        client.batch_execute(step).await.map_err(err)?;
        client.execute("UPDATE shotlist_schema SET version = $1", &[&(i as i32 + 1)]).await.map_err(err)?;
    }
    client.batch_execute("COMMIT").await.map_err(err)?;
    Ok(())
}

/// A campaign as read from the database: its records in order and who holds which job.
pub struct Campaign {
    pub records: Vec<Record>,
    /// Per job: the holder's machine and whether its lease is alive.
    pub claims: HashMap<String, (String, bool)>,
    /// Per job and variant: the machine that downloaded the clip.
    pub downloaded_by: HashMap<(String, u32), String>,
    /// What the campaign may be billed at most, as its budget counts it (every job's
    /// committed cost, as its holder last wrote it); `None` for a campaign no runner
    /// of this schema has opened yet.
    pub committed_usd: Option<f64>,
    last_seq: i64,
}

impl Campaign {
    /// The machine that downloaded the clip, else the one that holds (or held) its job.
    pub fn machine_of(&self, key: &str, variant: u32) -> Option<String> {
        self.downloaded_by
            .get(&(key.to_owned(), variant))
            .or_else(|| self.claims.get(key).map(|(machine, _)| machine))
            .cloned()
    }
}

async fn read_campaign(client: &Client, url: &str, campaign: &str) -> Result<Campaign, OpenError> {
    let err = |e| classify(url, e);
    let rows = client
        .query("SELECT seq, machine, body FROM shotlist_records WHERE campaign = $1 ORDER BY seq", &[&campaign])
        .await
        .map_err(err)?;
    let mut records = Vec::with_capacity(rows.len());
    let mut downloaded_by = HashMap::new();
    let mut last_seq = 0;
    for row in rows {
        last_seq = row.get(0);
        let body: serde_json::Value = row.get(2);
        let record: Record = serde_json::from_value(body).map_err(|e| OpenError::Other {
            url: elide_password(url),
            why: format!("record {last_seq} of campaign {campaign} is damaged ({e})"),
        })?;
        if let Record::Downloaded { key, variant, .. } = &record {
            downloaded_by.insert((key.clone(), *variant), row.get::<_, String>(1));
        }
        records.push(record);
    }
    let claims = client
        .query("SELECT job_key, machine, lease_until > now() FROM shotlist_claims WHERE campaign = $1", &[&campaign])
        .await
        .map_err(err)?
        .into_iter()
        .map(|r| (r.get::<_, String>(0), (r.get::<_, String>(1), r.get::<_, bool>(2))))
        .collect();
    let committed_usd: Option<f64> = client
        .query_one("SELECT sum(committed_usd)::float8 FROM shotlist_spend WHERE campaign = $1", &[&campaign])
        .await
        .map_err(err)?
        .get(0);
    Ok(Campaign { records, claims, downloaded_by, committed_usd, last_seq })
}

/// Reads a campaign for `status` and `report` (no claim, no write).
pub fn read_only(url: &str, campaign: &str) -> Result<Campaign, OpenError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| OpenError::Other { url: elide_password(url), why: e.to_string() })?;
    runtime.block_on(async {
        let (client, _) = connect(url).await?;
        migrate(&client, url).await?;
        read_campaign(&client, url, campaign).await
    })
}

/// A campaign open in PostgreSQL for one runner.
pub struct PgStore {
    client: Arc<Client>,
    /// A connection of its own for the claim transactions (the shared one carries
    /// the heartbeat and the pace meanwhile).
    claims: Client,
    /// Per job this runner holds in flight, the variants not seen yet.
    open_variants: HashMap<String, std::collections::BTreeSet<u32>>,
    lost: Arc<AtomicBool>,
    handle: tokio::runtime::Handle,
    url: String,
    campaign: String,
    machine: String,
    lease: f64,
    holders: HashMap<String, Holder>,
    /// The newest record this runner knows of, per job (else the campaign's at start).
    seen: HashMap<String, i64>,
    seen_at_start: i64,
    heartbeat: tokio::task::JoinHandle<()>,
    /// The jobs as this runner's records (and those it read) leave them: what each
    /// may be billed is written with its records.
    state: RunState,
    /// The budget this runner keeps over the whole campaign, if any.
    budget: Option<f64>,
    /// Per job and variant: the machine that downloaded the clip.
    downloaded_by: HashMap<(String, u32), String>,
}

impl PgStore {
    /// Connects, migrates, creates the campaign (with its header, once, whoever
    /// comes first) and reads it. Must be called inside a multi-threaded runtime.
    pub async fn open(url: &str, campaign: &str, machine: String) -> Result<(PgStore, Vec<Record>), OpenError> {
        let (client, lost) = connect(url).await?;
        migrate(&client, url).await?;
        let err = |e| classify(url, e);
        let header = super::header();
        if let Record::Header { run_id, .. } = &header {
            let (run_id, header) = (*run_id, serde_json::to_value(&header).expect("records serialise"));
            client
                .execute(
                    "WITH c AS (INSERT INTO shotlist_campaigns (id, run_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id) \
                     INSERT INTO shotlist_records (campaign, machine, body) SELECT id, $3, $4 FROM c",
                    &[&campaign, &run_id, &machine, &header],
                )
                .await
                .map_err(err)?;
        }
        let read = read_campaign(&client, url, campaign).await?;
        let holders = read
            .claims
            .iter()
            .map(|(k, (m, alive))| {
                let h = match (m == &machine, alive) {
                    (true, _) => Holder::Mine,
                    (false, true) => Holder::Live(m.clone()),
                    (false, false) => Holder::Dead(m.clone()),
                };
                (k.clone(), h)
            })
            .collect();
        let claims = Arc::into_inner(connect(url).await?.0).expect("a new connection has one owner");
        let lease = lease_secs();
        let heartbeat = tokio::spawn(heartbeat(client.clone(), campaign.to_owned(), machine.clone(), lease));
        let mut store = PgStore {
            client,
            claims,
            open_variants: HashMap::new(),
            lost,
            handle: tokio::runtime::Handle::current(),
            url: url.to_owned(),
            campaign: campaign.to_owned(),
            machine,
            lease,
            holders,
            seen: HashMap::new(),
            seen_at_start: read.last_seq,
            heartbeat,
            state: RunState::replay(&read.records),
            budget: None,
            downloaded_by: read.downloaded_by.clone(),
        };
        for r in &read.records {
            store.note(r);
        }
        store.seed_spend().await.map_err(err)?;
        Ok((store, read.records))
    }

    fn block<T>(&self, f: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>) -> io::Result<T> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(io::Error::other(format!("lost the state database at {}", elide_password(&self.url))));
        }
        let handle = self.handle.clone();
        tokio::task::block_in_place(move || {
            handle.block_on(async { tokio::time::timeout(Duration::from_secs(20), f).await })
        })
        .map_err(|_| io::Error::other("the state database did not answer in 20 s"))?
        .map_err(|e| io::Error::other(format!("the state database at {}: {e}", elide_password(&self.url))))
    }

    fn records_of(&mut self, key: &str) -> io::Result<Vec<Record>> {
        let (client, campaign) = (self.client.clone(), self.campaign.clone());
        let rows = self.block(async move {
            client
                .query(
                    "SELECT seq, machine, body FROM shotlist_records WHERE campaign = $1 AND job_key = $2 ORDER BY seq",
                    &[&campaign, &key],
                )
                .await
        })?;
        let mut out = Vec::new();
        self.state.jobs.remove(key);
        for row in rows {
            let seq: i64 = row.get(0);
            self.seen.insert(key.to_owned(), seq);
            let record: Record = serde_json::from_value(row.get(2)).map_err(io::Error::other)?;
            self.note(&record);
            self.learn(&record, row.get(1));
            out.push(record);
        }
        Ok(out)
    }

    /// Follows a record (written by `machine`): its job's state, and who downloaded a clip.
    fn learn(&mut self, record: &Record, machine: &str) {
        if let Record::Downloaded { key, variant, .. } = record {
            self.downloaded_by.insert((key.clone(), *variant), machine.to_owned());
        }
        self.state.apply(record);
    }

    /// A campaign begun before the database kept what each job may be billed: its
    /// jobs' rows, from its records (a row already written is the holder's, and kept).
    async fn seed_spend(&self) -> Result<(), tokio_postgres::Error> {
        let (keys, usd): (Vec<String>, Vec<f64>) = self
            .state
            .jobs
            .values()
            .map(|js| (js.key.clone(), budget::committed_usd(js, false)))
            .filter(|(_, usd)| *usd > 0.0)
            .unzip();
        if keys.is_empty() {
            return Ok(());
        }
        self.client
            .execute(
                "INSERT INTO shotlist_spend (campaign, job_key, committed_usd) \
                 SELECT $1, k, u FROM unnest($2::text[], $3::float8[]) AS t (k, u) ON CONFLICT DO NOTHING",
                &[&self.campaign, &keys, &usd],
            )
            .await?;
        Ok(())
    }

    /// What the job may be billed, by this runner's records of it.
    fn committed_of(&self, key: &str) -> f64 {
        self.state.jobs.get(key).map_or(0.0, |js| budget::committed_usd(js, false))
    }
}

impl PgStore {
    /// A job that settles leaves the account's in-flight count: its clips all seen
    /// (or failed), the job failed, in doubt, or its submit not accepted.
    fn settle(&mut self, record: &Record) -> io::Result<()> {
        let Some(key) = self.note(record) else { return Ok(()) };
        self.leave_in_flight(&key)
    }

    /// Whether the job is sent or accepted, with clips still awaited.
    fn unsettled(&self, key: &str) -> bool {
        use crate::run::state::Phase;
        let phase = self.state.jobs.get(key).map(|js| &js.phase);
        matches!(phase, Some(Phase::Submitting { .. } | Phase::Running))
            && self.open_variants.get(key).is_some_and(|open| !open.is_empty())
    }

    /// The job no longer counts against the account's in-flight limit.
    fn leave_in_flight(&self, key: &str) -> io::Result<()> {
        let (client, campaign, machine, key) =
            (self.client.clone(), self.campaign.clone(), self.machine.clone(), key.to_owned());
        self.block(async move {
            client
                .execute(
                    "UPDATE shotlist_claims SET in_flight = false WHERE campaign = $1 AND job_key = $2 AND machine = $3 AND in_flight",
                    &[&campaign, &key, &machine],
                )
                .await
        })?;
        Ok(())
    }

    /// Follows which variants of each job are still awaited; the job whose record
    /// this is, when it settles with it.
    fn note(&mut self, record: &Record) -> Option<String> {
        match record {
            Record::Job { key, def } => {
                self.open_variants.insert(key.clone(), def.variants.iter().copied().collect());
                None
            }
            Record::Clip { key, variant, .. } | Record::Failed { key, variant: Some(variant), .. } => {
                let set = self.open_variants.get_mut(key);
                let empty = set.map(|s| {
                    s.remove(variant);
                    s.is_empty()
                });
                empty.unwrap_or(false).then(|| key.clone())
            }
            Record::Failed { key, variant: None, .. }
            | Record::InDoubt { key, .. }
            | Record::NotAccepted { key, .. } => Some(key.clone()),
            _ => None,
        }
    }

    /// Claims a job for a submit in one transaction on the account's row: the
    /// account's jobs in flight (every runner's, live leases) are counted, and the
    /// claim taken only under the limit.
    fn claim_within(&mut self, key: &str, limit: InFlight<'_>) -> io::Result<Claim> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(io::Error::other(format!("lost the state database at {}", elide_password(&self.url))));
        }
        let seen = self.seen.get(key).copied().unwrap_or(self.seen_at_start);
        let (campaign, machine, lease) = (self.campaign.clone(), self.machine.clone(), self.lease);
        let (account, max) = (limit.account.0.clone(), i64::from(limit.max.max(1)));
        let handle = self.handle.clone();
        let claims = &mut self.claims;
        let result = tokio::task::block_in_place(|| {
            handle.block_on(async {
                let run = async {
                    let tx = claims.transaction().await?;
                    tx.execute("INSERT INTO shotlist_accounts (account) VALUES ($1) ON CONFLICT DO NOTHING", &[&account])
                        .await?;
                    // Claims on one account take turns here: the count below is exact.
                    tx.execute("SELECT 1 FROM shotlist_accounts WHERE account = $1 FOR UPDATE", &[&account]).await?;
                    let busy: i64 = tx
                        .query_one(
                            "SELECT count(*) FROM shotlist_claims WHERE account = $1 AND in_flight AND lease_until > now()                              AND NOT (campaign = $2 AND job_key = $3)",
                            &[&account, &campaign, &key],
                        )
                        .await?
                        .get(0);
                    if busy >= max {
                        tx.commit().await?;
                        return Ok::<_, tokio_postgres::Error>(None);
                    }
                    let row = tx
                        .query_one(
                            "WITH c AS (INSERT INTO shotlist_claims (campaign, job_key, machine, lease_until, account, in_flight)                                         VALUES ($1, $2, $3, now() + make_interval(secs => $4), $6, true)                                         ON CONFLICT (campaign, job_key) DO UPDATE SET machine = EXCLUDED.machine,                                             lease_until = EXCLUDED.lease_until, account = EXCLUDED.account, in_flight = true                                         WHERE shotlist_claims.machine = EXCLUDED.machine OR shotlist_claims.lease_until < now() RETURNING 1)                              SELECT (SELECT count(*) FROM c),                                     coalesce((SELECT machine FROM shotlist_claims WHERE campaign = $1 AND job_key = $2), ''),                                     EXISTS (SELECT 1 FROM shotlist_records WHERE campaign = $1 AND job_key = $2 AND machine <> $3 AND seq > $5)",
                            &[&campaign, &key, &machine, &lease, &seen, &account],
                        )
                        .await?;
                    tx.commit().await?;
                    Ok(Some((row.get::<_, i64>(0), row.get::<_, String>(1), row.get::<_, bool>(2))))
                };
                tokio::time::timeout(Duration::from_secs(20), run).await
            })
        });
        let answer = result
            .map_err(|_| io::Error::other("the state database did not answer in 20 s"))?
            .map_err(|e| io::Error::other(format!("the state database at {}: {e}", elide_password(&self.url))))?;
        let Some((got, holder, moved)) = answer else { return Ok(Claim::AccountFull) };
        if got == 0 {
            self.holders.insert(key.to_owned(), Holder::Live(holder.clone()));
            return Ok(Claim::Elsewhere(holder));
        }
        self.holders.insert(key.to_owned(), Holder::Mine);
        if moved {
            // Claimed for a submit, but another runner moved the job on (and let it go):
            // it counts against the account only while it is out there unsettled.
            let records = self.records_of(key)?;
            if !self.unsettled(key) {
                self.leave_in_flight(key)?;
            }
            return Ok(Claim::Adopt(records));
        }
        Ok(Claim::Granted)
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

/// Keeps this runner's leases alive while it runs.
async fn heartbeat(client: Arc<Client>, campaign: String, machine: String, lease: f64) {
    let every = Duration::from_secs_f64((lease / 3.0).max(0.2));
    loop {
        tokio::time::sleep(every).await;
        let _ = client
            .execute(
                "UPDATE shotlist_claims SET lease_until = now() + make_interval(secs => $3) WHERE campaign = $1 AND machine = $2",
                &[&campaign, &machine, &lease],
            )
            .await;
    }
}

impl Store for PgStore {
    fn describe(&self) -> String {
        format!("{} (campaign {})", elide_password(&self.url), self.campaign)
    }

    fn append(&mut self, record: &Record) -> io::Result<()> {
        self.settle(record)?;
        let machine = self.machine.clone();
        self.learn(record, &machine);
        let body = serde_json::to_value(record).map_err(io::Error::other)?;
        let key = record.job_key().map(str::to_owned);
        let usd = key.as_deref().map_or(0.0, |k| self.committed_of(k));
        let (client, campaign, machine) = (self.client.clone(), self.campaign.clone(), self.machine.clone());
        // Each statement commits on its own: the record is durable when this returns,
        // and with it what its job may be billed now.
        self.block(async move {
            client
                .execute(
                    "WITH r AS (INSERT INTO shotlist_records (campaign, machine, job_key, body) \
                                VALUES ($1, $2, $3, $4) RETURNING job_key) \
                     INSERT INTO shotlist_spend (campaign, job_key, committed_usd) \
                     SELECT $1, job_key, $5 FROM r WHERE job_key IS NOT NULL \
                     ON CONFLICT (campaign, job_key) DO UPDATE SET committed_usd = EXCLUDED.committed_usd",
                    &[&campaign, &machine, &key, &body, &usd],
                )
                .await
        })?;
        Ok(())
    }

    fn intent(&mut self, record: &Record, idempotent: bool) -> io::Result<Claim> {
        let Record::Intent { key, attempt, task_uuid, .. } = record else {
            self.append(record)?;
            return Ok(Claim::Granted);
        };
        if self.lost.load(Ordering::SeqCst) {
            return Err(io::Error::other(format!("lost the state database at {}", elide_password(&self.url))));
        }
        let body = serde_json::to_value(record).map_err(io::Error::other)?;
        // What the job may be billed once this intent is written (its worst case).
        let before = self.state.jobs.get(key).cloned();
        let committed_before = self.committed_of(key);
        self.state.apply(record);
        let usd = self.committed_of(key);
        let (campaign, machine, lease, budget) = (self.campaign.clone(), self.machine.clone(), self.lease, self.budget);
        let (owned, attempt, task_uuid) = (key.clone(), *attempt as i32, *task_uuid);
        let handle = self.handle.clone();
        let claims = &mut self.claims;
        // Under a budget, one transaction: the campaign's row is locked (intents of one
        // campaign take turns, so the sum is exact), what every other job may be billed
        // is summed, and the intent is written (see [`INTENT`]) only if this job's worst
        // case fits on top.
        let result = tokio::task::block_in_place(|| {
            handle.block_on(async {
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 9] =
                    [&campaign, &owned, &machine, &attempt, &task_uuid, &idempotent, &lease, &body, &usd];
                let run = async {
                    let Some(max) = budget else {
                        // No budget to keep: one statement, committed on its own.
                        return Ok(Ok(claims.query_one(INTENT, &params).await?.get(0)));
                    };
                    let tx = claims.transaction().await?;
                    tx.execute("SELECT 1 FROM shotlist_campaigns WHERE id = $1 FOR UPDATE", &[&campaign]).await?;
                    let others: f64 = tx
                        .query_one(
                            "SELECT coalesce(sum(committed_usd), 0)::float8 FROM shotlist_spend \
                             WHERE campaign = $1 AND job_key <> $2",
                            &[&campaign, &owned],
                        )
                        .await?
                        .get(0);
                    if !budget::fits(others, usd, max) {
                        // Not sent: the job no longer counts against the account's in-flight limit.
                        tx.execute(
                            "UPDATE shotlist_claims SET in_flight = false \
                             WHERE campaign = $1 AND job_key = $2 AND machine = $3",
                            &[&campaign, &owned, &machine],
                        )
                        .await?;
                        tx.commit().await?;
                        return Ok::<_, tokio_postgres::Error>(Err(others + committed_before));
                    }
                    let written: i64 = tx.query_one(INTENT, &params).await?.get(0);
                    tx.commit().await?;
                    Ok(Ok(written))
                };
                tokio::time::timeout(Duration::from_secs(20), run).await
            })
        });
        let answer = result.map_err(|_| io::Error::other("the state database did not answer in 20 s")).and_then(|r| {
            r.map_err(|e| io::Error::other(format!("the state database at {}: {e}", elide_password(&self.url))))
        });
        let claim = match answer {
            Ok(Ok(1)) => return Ok(Claim::Granted),
            Ok(Ok(_)) => Ok(Claim::Elsewhere("another runner".into())),
            Ok(Err(committed_usd)) => Ok(Claim::OverBudget { committed_usd }),
            Err(e) => Err(e),
        };
        // Nothing was written: the job stands as before.
        match before {
            Some(js) => self.state.jobs.insert(key.clone(), js),
            None => self.state.jobs.remove(key),
        };
        claim
    }

    fn claim(&mut self, key: &str, limit: Option<InFlight<'_>>) -> io::Result<Claim> {
        if let Some(limit) = limit {
            return self.claim_within(key, limit);
        }
        let (client, campaign, machine, lease) =
            (self.client.clone(), self.campaign.clone(), self.machine.clone(), self.lease);
        let seen = self.seen.get(key).copied().unwrap_or(self.seen_at_start);
        let owned = key.to_owned();
        let row = self.block(async move {
            client
                .query_one(
                    "WITH c AS (INSERT INTO shotlist_claims (campaign, job_key, machine, lease_until) \
                                VALUES ($1, $2, $3, now() + make_interval(secs => $4)) \
                                ON CONFLICT (campaign, job_key) DO UPDATE SET machine = EXCLUDED.machine, lease_until = EXCLUDED.lease_until \
                                WHERE shotlist_claims.machine = EXCLUDED.machine OR shotlist_claims.lease_until < now() RETURNING 1) \
                     SELECT (SELECT count(*) FROM c), \
                            coalesce((SELECT machine FROM shotlist_claims WHERE campaign = $1 AND job_key = $2), ''), \
                            EXISTS (SELECT 1 FROM shotlist_records WHERE campaign = $1 AND job_key = $2 AND machine <> $3 AND seq > $5)",
                    &[&campaign, &owned, &machine, &lease, &seen],
                )
                .await
        })?;
        let (got, holder, moved): (i64, String, bool) = (row.get(0), row.get(1), row.get(2));
        if got == 0 {
            self.holders.insert(key.to_owned(), Holder::Live(holder.clone()));
            return Ok(Claim::Elsewhere(holder));
        }
        self.holders.insert(key.to_owned(), Holder::Mine);
        if moved {
            return Ok(Claim::Adopt(self.records_of(key)?));
        }
        Ok(Claim::Granted)
    }

    fn records_of_jobs(&mut self, keys: &[String]) -> io::Result<Vec<Record>> {
        let (client, campaign, keys) = (self.client.clone(), self.campaign.clone(), keys.to_vec());
        let followed = keys.clone();
        let rows = self.block(async move {
            client
                .query(
                    "SELECT machine, body FROM shotlist_records WHERE campaign = $1 AND job_key = ANY($2) ORDER BY seq",
                    &[&campaign, &keys],
                )
                .await
        })?;
        for key in followed {
            self.state.jobs.remove(&key);
        }
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let record: Record = serde_json::from_value(row.get(1)).map_err(io::Error::other)?;
            self.learn(&record, row.get(0));
            records.push(record);
        }
        Ok(records)
    }

    fn holder(&self, key: &str) -> Holder {
        self.holders.get(key).cloned().unwrap_or(Holder::Mine)
    }

    fn adopt(&mut self) -> io::Result<Vec<(String, Vec<Record>)>> {
        let (client, campaign, machine, lease) =
            (self.client.clone(), self.campaign.clone(), self.machine.clone(), self.lease);
        // Leases that ran out are taken over a few at a time; rows another runner is
        // taking over right now are skipped, not waited for.
        let rows = self.block(async move {
            client
                .query(
                    "UPDATE shotlist_claims SET machine = $2, lease_until = now() + make_interval(secs => $3) \
                     WHERE (campaign, job_key) IN (SELECT campaign, job_key FROM shotlist_claims \
                         WHERE campaign = $1 AND machine <> $2 AND lease_until < now() LIMIT 50 FOR UPDATE SKIP LOCKED) \
                     RETURNING job_key",
                    &[&campaign, &machine, &lease],
                )
                .await
        })?;
        let mut out = Vec::new();
        for row in rows {
            let key: String = row.get(0);
            self.holders.insert(key.clone(), Holder::Mine);
            let records = self.records_of(&key)?;
            out.push((key, records));
        }
        Ok(out)
    }

    fn pace(&self, account: &AccountKey, per_minute: u32, time_scale: f64) -> Option<Arc<dyn Pace>> {
        // A hair slower than the limit: the provider counts arrivals, which jitter.
        let interval = 60.0 / f64::from(per_minute.max(1)) * time_scale * 1.02;
        Some(Arc::new(PgPace {
            client: self.client.clone(),
            account: account.0.clone(),
            interval,
            turn: tokio::sync::Mutex::new(false),
        }))
    }

    fn machine_of(&self, key: &str, variant: u32) -> Option<String> {
        if let Some(m) = self.downloaded_by.get(&(key.to_owned(), variant)) {
            return Some(m.clone());
        }
        match self.holders.get(key)? {
            Holder::Mine => Some(self.machine.clone()),
            Holder::Live(m) | Holder::Dead(m) => Some(m.clone()),
        }
    }

    fn keep_budget(&mut self, max_usd: f64) {
        self.budget = Some(max_usd);
    }

    fn sync(&mut self) -> io::Result<()> {
        // Leaving: this runner's leases end now, so another may take its open jobs at once.
        let (client, campaign, machine) = (self.client.clone(), self.campaign.clone(), self.machine.clone());
        self.heartbeat.abort();
        self.block(async move {
            client
                .execute(
                    "UPDATE shotlist_claims SET lease_until = now() WHERE campaign = $1 AND machine = $2",
                    &[&campaign, &machine],
                )
                .await
        })?;
        Ok(())
    }
}

/// One account's GCRA row and cooldown.
struct PgPace {
    client: Arc<Client>,
    account: String,
    interval: f64,
    /// One waiter per runner asks the database at a time (else every submit waiting
    /// in this process asks at each tick); holds whether the account row exists.
    turn: tokio::sync::Mutex<bool>,
}

impl Pace for PgPace {
    fn before_submit(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut row_made = self.turn.lock().await;
            if !*row_made {
                let made = self
                    .client
                    .execute(
                        "INSERT INTO shotlist_accounts (account) VALUES ($1) ON CONFLICT DO NOTHING",
                        &[&self.account],
                    )
                    .await;
                *row_made = made.is_ok();
            }
            loop {
                // GCRA, burst 1: a token when the theoretical arrival time has come;
                // the answer says how long to wait otherwise.
                let row = self
                    .client
                    .query_one(
                        "WITH u AS (UPDATE shotlist_accounts SET tat = greatest(tat, now()) + make_interval(secs => $2) \
                                    WHERE account = $1 AND cooldown_until <= now() AND tat <= now() RETURNING 1) \
                         SELECT (SELECT count(*) FROM u), \
                                greatest(extract(epoch FROM cooldown_until - now()), extract(epoch FROM tat - now()), 0)::float8 \
                         FROM shotlist_accounts WHERE account = $1",
                        &[&self.account, &self.interval],
                    )
                    .await;
                match row {
                    Ok(row) if row.get::<_, i64>(0) == 1 => return,
                    Ok(row) => {
                        let wait: f64 = row.get(1);
                        tokio::time::sleep(Duration::from_secs_f64(wait.clamp(0.001, 5.0))).await;
                    }
                    // The intent cannot be written either: nothing is sent.
                    Err(_) => return,
                }
            }
        })
    }

    fn cool_down(&self, retry_after: Option<Duration>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let secs = retry_after.map_or(self.interval * 3.0, |d| d.as_secs_f64());
            let _ = self
                .client
                .execute(
                    "UPDATE shotlist_accounts SET cooldown_until = greatest(cooldown_until, now() + make_interval(secs => $2)) WHERE account = $1",
                    &[&self.account, &secs],
                )
                .await;
        })
    }
}
