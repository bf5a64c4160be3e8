//! The simulator's shared state and the decisions every protocol makes alike:
//! seeded draws, fault picks, rate windows, credits, task timing and signed URLs.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::config::{Faults, SimConfig};
use super::ledger::{Ledger, LedgerEntry, ProviderStats, SeenOptions, Stats, Totals, round4};
use crate::catalog::Provider;
use crate::catalog::output::OutputFormat;

/// What the fault dice chose for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    Http5xx,
    ResetBefore,
    ResetAfter,
    NoAnswer,
    MalformedJson,
}

/// How one result of a task ends.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Success,
    ProviderFailure,
    OutputBlocked,
    /// Segmind reports input moderation as a failed job.
    InputBlocked,
}

/// One clip of a task.
#[derive(Clone, Debug)]
pub struct ResultPlan {
    pub ready_at: Instant,
    pub outcome: Outcome,
    /// Names the clip's file (Runware `videoUUID`, MiniMax `file_id`).
    pub clip_id: String,
    pub seed: u64,
    /// Served whole at least once (a truncated download does not count).
    pub downloaded: bool,
}

/// An accepted task.
#[derive(Clone, Debug)]
pub struct Task {
    pub provider: Provider,
    pub id: String,
    pub created: Instant,
    pub results: Vec<ResultPlan>,
    pub width: u32,
    pub height: u32,
    pub unit_cost: Option<f64>,
    /// Whether answers carry the cost (Runware `includeCost`, Segmind metrics).
    pub reports_cost: bool,
    /// The container the clips are served in (Runware `outputFormat`).
    pub format: OutputFormat,
    /// Runware's `NSFWContent` verdict, given only when the submit asked for a check.
    pub nsfw: Option<bool>,
    /// Runware `ttl`: how long its result URLs live (simulated seconds).
    pub url_ttl_secs: Option<f64>,
    /// A MiniMax template task (queried on its own endpoint only).
    pub template: bool,
    /// Where its entry is in the books.
    ledger_at: usize,
}

impl Task {
    /// Fraction of the render done, 0 to 1.
    pub fn progress(&self, now: Instant) -> f64 {
        let end = self.results.iter().map(|r| r.ready_at).max().unwrap_or(now);
        let total = end.saturating_duration_since(self.created).as_secs_f64();
        if total <= 0.0 {
            return 1.0;
        }
        (now.saturating_duration_since(self.created).as_secs_f64() / total).clamp(0.0, 1.0)
    }

    pub fn finished(&self, now: Instant) -> bool {
        self.results.iter().all(|r| r.ready_at <= now)
    }

    /// Every clip rendered, and every good one served whole: nothing is left to ask for.
    fn delivered(&self, now: Instant) -> bool {
        self.finished(now) && self.results.iter().all(|r| r.outcome != Outcome::Success || r.downloaded)
    }

    fn clips_billed(&self, now: Instant) -> u32 {
        self.results.iter().filter(|r| r.outcome == Outcome::Success && r.ready_at <= now).count() as u32
    }
}

/// A request digest as the books keep it: [`digest`]'s 16 hex digits as the number
/// they spell (no allocation), anything else as given.
enum BookDigest {
    Hex(u64),
    Other(Box<str>),
}

impl BookDigest {
    fn new(d: String) -> BookDigest {
        match u64::from_str_radix(&d, 16) {
            Ok(n) if format!("{n:016x}") == d => BookDigest::Hex(n),
            _ => BookDigest::Other(d.into()),
        }
    }

    fn show(&self) -> String {
        match self {
            BookDigest::Hex(n) => format!("{n:016x}"),
            BookDigest::Other(d) => d.to_string(),
        }
    }
}

/// One accepted task in the books, kept compact (a rehearsal books 100,000): the
/// [`LedgerEntry`] is built when the books are read.
struct Booked {
    provider: Provider,
    task_id: Box<str>,
    /// Index in `Inner::models` (a night names a few models 100,000 times).
    model: u32,
    number_results: u32,
    unit_cost_usd: Option<f64>,
    reports_cost: bool,
    request_digest: BookDigest,
    /// `None`: the submit asked for nothing beyond the defaults (most do).
    options: Option<Box<SeenOptions>>,
    /// Fixed when the task was forgotten; until then counted from the task.
    clips_billed: Option<u32>,
}

pub struct Sim {
    pub cfg: SimConfig,
    /// `http://127.0.0.1:PORT`, for the absolute URLs in answers.
    pub base_url: String,
    pub inner: Mutex<Inner>,
}

#[derive(Default)]
pub struct Inner {
    pub tasks: HashMap<(Provider, String), Task>,
    ledger: Vec<Booked>,
    /// The models the books name, each once.
    models: Vec<Box<str>>,
    /// Tasks served whole, oldest first: forgotten once `forget_delivered_after_secs`
    /// has passed (see [`Sim::served`]).
    delivered: VecDeque<(Instant, Provider, String)>,
    /// Digests of the forgotten tasks' ids: an id stays used (Runware refuses a
    /// taskUUID twice) after its task is forgotten.
    forgotten: std::collections::HashSet<(Provider, u64)>,
    /// Per request identity (by a digest of it: a Runware poll's identity names every
    /// task of its batch, and a night sends hundreds of thousands), times seen.
    attempts: HashMap<u64, u32>,
    windows: HashMap<(Provider, bool), VecDeque<Instant>>,
    pub stats: HashMap<Provider, ProviderStats>,
    pub files: HashMap<String, (Provider, String)>,
    next_id: u64,
    /// Per task, what a protocol keeps beyond the common fields (MiniMax v2's
    /// task object: model, resolution, ratio, `created_at`, usage).
    pub meta: HashMap<(Provider, String), serde_json::Value>,
}

impl Inner {
    /// What a task in the books bills so far (0 when neither kept nor fixed).
    fn clips_billed(&self, b: &Booked, now: Instant) -> u32 {
        b.clips_billed
            .or_else(|| self.tasks.get(&(b.provider, b.task_id.to_string())).map(|task| task.clips_billed(now)))
            .unwrap_or(0)
    }

    /// Forgets the tasks served whole longer than `after` ago, fixing what they bill.
    fn forget_due(&mut self, now: Instant, after: Option<Duration>) {
        let Some(after) = after else { return };
        while self.delivered.front().is_some_and(|(at, _, _)| now.saturating_duration_since(*at) >= after) {
            let Some((_, provider, id)) = self.delivered.pop_front() else { break };
            let key = (provider, id);
            let Some(task) = self.tasks.remove(&key) else { continue };
            if let Some(e) = self.ledger.get_mut(task.ledger_at) {
                e.clips_billed = Some(task.clips_billed(now));
            }
            for r in &task.results {
                self.files.remove(&r.clip_id);
            }
            self.meta.remove(&key);
            self.forgotten.insert((key.0, id_digest(&key.1)));
        }
    }
}

/// A task id as the forgotten set keeps it.
fn id_digest(id: &str) -> u64 {
    u64::from_le_bytes(Sha256::digest(id.as_bytes())[..8].try_into().expect("8 bytes"))
}

impl Sim {
    pub fn new(cfg: SimConfig, base_url: String) -> Sim {
        Sim { cfg, base_url, inner: Mutex::new(Inner::default()) }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic in one handler must not wedge the simulator for the others.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A number in [0, 1) fixed by the seed and `parts`: the same request in the
    /// same scenario draws the same number, whatever else runs concurrently.
    pub fn draw(&self, parts: &[&str]) -> f64 {
        let mut h = Sha256::new();
        h.update(self.cfg.seed.to_le_bytes());
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p.as_bytes());
        }
        let d = h.finalize();
        let n = u64::from_le_bytes(d[..8].try_into().expect("8 bytes"));
        (n >> 11) as f64 / (1u64 << 53) as f64
    }

    /// How many times `identity` was seen before (0 the first time).
    pub fn attempt(&self, identity: &str) -> u32 {
        let key = u64::from_le_bytes(Sha256::digest(identity.as_bytes())[..8].try_into().expect("8 bytes"));
        let mut inner = self.lock();
        let n = inner.attempts.entry(key).or_insert(0);
        *n += 1;
        *n - 1
    }

    /// Picks the transport fault for a request, in a fixed order of precedence.
    pub fn fault(&self, provider: Provider, identity: &str) -> Fault {
        let f: Faults = self.cfg.faults(provider);
        // Without transport faults nothing is drawn, so nothing is counted: a night's
        // requests (hundreds of thousands) each left a counter behind.
        if [f.reset_before, f.http5xx, f.no_answer, f.reset_after, f.malformed_json].iter().all(|p| *p <= 0.0) {
            return Fault::None;
        }
        let nth = self.attempt(&format!("fault:{identity}")).to_string();
        let roll = |kind: &str, p: f64| p > 0.0 && self.draw(&[kind, identity, &nth]) < p;
        let fault = if roll("reset_before", f.reset_before) {
            Fault::ResetBefore
        } else if roll("http5xx", f.http5xx) {
            Fault::Http5xx
        } else if roll("no_answer", f.no_answer) {
            Fault::NoAnswer
        } else if roll("reset_after", f.reset_after) {
            Fault::ResetAfter
        } else if roll("malformed", f.malformed_json) {
            Fault::MalformedJson
        } else {
            Fault::None
        };
        if fault != Fault::None {
            self.count(provider, |s| s.faults_injected += 1);
        }
        fault
    }

    pub fn count(&self, provider: Provider, f: impl FnOnce(&mut ProviderStats)) {
        let mut inner = self.lock();
        f(inner.stats.entry(provider).or_default());
    }

    /// Checks the sliding one-minute window for submits (`poll` false) or polls.
    /// `Some(wait)` when over the limit: how long until a slot frees.
    pub fn over_rate(&self, provider: Provider, poll: bool) -> Option<Duration> {
        let ps = self.cfg.provider(provider);
        let per_minute = if poll { ps.polls_per_minute } else { ps.requests_per_minute }?;
        let now = Instant::now();
        // Simulated seconds: limits scale with the simulated clock, as the runner's do.
        let window_secs = ps.rate_window_secs.filter(|w| *w > 0.0).unwrap_or(60.0);
        let limit = (f64::from(per_minute) * window_secs / 60.0).ceil().max(1.0) as u32;
        let window = self.scaled(window_secs);
        let mut inner = self.lock();
        let q = inner.windows.entry((provider, poll)).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() as u32 >= limit {
            let oldest = *q.front().expect("non-empty at the limit");
            return Some(window.saturating_sub(now.duration_since(oldest)));
        }
        q.push_back(now);
        None
    }

    /// Whether another task may start rendering now.
    pub fn over_concurrency(&self, provider: Provider) -> bool {
        let Some(max) = self.cfg.provider(provider).max_concurrent else { return false };
        let now = Instant::now();
        let inner = self.lock();
        let running = inner.tasks.values().filter(|t| t.provider == provider && !t.finished(now)).count();
        running as u32 >= max
    }

    /// Whether the account has run out of credits.
    pub fn out_of_credits(&self, provider: Provider) -> bool {
        let Some(after) = self.cfg.provider(provider).credits_after else { return false };
        let inner = self.lock();
        inner.ledger.iter().filter(|e| e.provider == provider).count() as u32 >= after
    }

    /// Whether `key` is accepted for `provider`.
    pub fn key_ok(&self, provider: Provider, key: Option<&str>) -> bool {
        match (key, self.cfg.provider(provider).api_key) {
            (None, _) => false,
            (Some(k), _) if k.trim().is_empty() => false,
            (Some(k), Some(expected)) => k == expected,
            (Some(_), None) => true,
        }
    }

    /// A new numeric id (MiniMax style: 15 digits), unique in this simulator.
    pub fn numeric_id(&self) -> String {
        let mut inner = self.lock();
        inner.next_id += 1;
        format!("{}", 300_000_000_000_000u64 + self.cfg.seed % 1000 * 1_000_000_000 + inner.next_id)
    }

    /// Plans and records an accepted task: render times and outcomes drawn from the
    /// seed and the task's identity; the ledger bills it.
    #[allow(clippy::too_many_arguments)]
    pub fn accept(
        &self,
        provider: Provider,
        id: &str,
        identity: &str,
        model: &str,
        number_results: u32,
        (width, height): (u32, u32),
        unit_cost: Option<f64>,
        reports_cost: bool,
        request_digest: String,
    ) -> Task {
        let render = self.cfg.render(provider);
        let faults = self.cfg.faults(provider);
        let now = Instant::now();
        let results = (0..number_results)
            .map(|i| {
                let idx = i.to_string();
                let secs =
                    render.min_secs + (render.max_secs - render.min_secs) * self.draw(&["render", identity, &idx]);
                let outcome = if self.draw(&["fail", identity, &idx]) < faults.provider_failure {
                    Outcome::ProviderFailure
                } else if self.draw(&["block_out", identity, &idx]) < faults.content_blocked_output {
                    Outcome::OutputBlocked
                } else {
                    Outcome::Success
                };
                let clip_id = match provider {
                    Provider::Runware => uuid_from(&format!("{}:{identity}:{idx}:video", self.cfg.seed)).to_string(),
                    _ => self.numeric_id(),
                };
                let seed = (self.draw(&["seed", identity, &idx]) * 4_294_967_295.0) as u64 + 1;
                ResultPlan {
                    ready_at: now + Duration::from_secs_f64((secs * self.cfg.time_scale).max(0.0)),
                    outcome,
                    clip_id,
                    seed,
                    downloaded: false,
                }
            })
            .collect();
        let mut inner = self.lock();
        let task = Task {
            provider,
            id: id.to_owned(),
            created: now,
            results,
            width,
            height,
            unit_cost,
            reports_cost,
            format: OutputFormat::Mp4,
            nsfw: None,
            url_ttl_secs: None,
            template: false,
            ledger_at: inner.ledger.len(),
        };
        inner.forget_due(now, self.forget_after());
        for r in &task.results {
            inner.files.insert(r.clip_id.clone(), (provider, id.to_owned()));
        }
        let model = match inner.models.iter().position(|m| &**m == model) {
            Some(i) => i as u32,
            None => {
                inner.models.push(model.into());
                (inner.models.len() - 1) as u32
            }
        };
        inner.ledger.push(Booked {
            provider,
            task_id: id.into(),
            model,
            number_results,
            unit_cost_usd: unit_cost,
            reports_cost,
            request_digest: BookDigest::new(request_digest),
            options: None,
            clips_billed: None,
        });
        inner.tasks.insert((provider, id.to_owned()), task.clone());
        inner.stats.entry(provider).or_default().accepted += 1;
        task
    }

    /// Makes every clip of a task end the same way (Segmind's input moderation).
    pub fn set_outcome(&self, provider: Provider, id: &str, outcome: Outcome) {
        if let Some(task) = self.lock().tasks.get_mut(&(provider, id.to_owned())) {
            for r in &mut task.results {
                r.outcome = outcome.clone();
            }
        }
    }

    /// Records what an accepted submit asked for: its options in the ledger, and the
    /// container and safety verdict its clips are served with.
    pub fn set_delivery(
        &self,
        provider: Provider,
        id: &str,
        format: OutputFormat,
        nsfw: Option<bool>,
        seen: SeenOptions,
    ) {
        let mut inner = self.lock();
        let mut at = None;
        if let Some(task) = inner.tasks.get_mut(&(provider, id.to_owned())) {
            task.format = format;
            task.nsfw = nsfw;
            task.url_ttl_secs = seen.ttl_secs.map(|s| s as f64);
            task.template = seen.template_id.is_some();
            at = Some(task.ledger_at);
        }
        let at = at.or_else(|| inner.ledger.iter().rposition(|e| e.provider == provider && &*e.task_id == id));
        if let Some(e) = at.and_then(|i| inner.ledger.get_mut(i)) {
            e.options = (seen != SeenOptions::default()).then(|| Box::new(seen));
        }
    }

    /// Whether a task of this id was ever accepted, forgotten or not.
    pub fn used(&self, provider: Provider, id: &str) -> bool {
        let inner = self.lock();
        inner.tasks.contains_key(&(provider, id.to_owned())) || inner.forgotten.contains(&(provider, id_digest(id)))
    }

    /// A clip was served whole. Once every clip of its task is, the task waits out
    /// `forget_delivered_after_secs` (a retried download, a late poll) and is then
    /// forgotten but for its line in the books: a rehearsal's runner never asks
    /// again for a clip it has, and a night of 100,000 tasks kept them all.
    pub fn served(&self, provider: Provider, task_id: &str, clip_id: &str) {
        let Some(after) = self.forget_after() else { return };
        let now = Instant::now();
        let mut inner = self.lock();
        let Some(task) = inner.tasks.get_mut(&(provider, task_id.to_owned())) else { return };
        let before = task.delivered(now);
        for r in task.results.iter_mut().filter(|r| r.clip_id == clip_id) {
            r.downloaded = true;
        }
        if !before && task.delivered(now) {
            inner.delivered.push_back((now, provider, task_id.to_owned()));
        }
        inner.forget_due(now, Some(after));
    }

    /// Real time a served task is kept (`None`: forever).
    fn forget_after(&self) -> Option<Duration> {
        self.cfg.forget_delivered_after_secs.map(|s| self.scaled(s))
    }

    pub fn task(&self, provider: Provider, id: &str) -> Option<Task> {
        self.lock().tasks.get(&(provider, id.to_owned())).cloned()
    }

    /// Real time equivalent of simulated seconds.
    pub fn scaled(&self, sim_secs: f64) -> Duration {
        Duration::from_secs_f64((sim_secs * self.cfg.time_scale).max(0.0))
    }

    /// A download URL for a clip in its container, valid for the configured time.
    pub fn signed_url(&self, clip_id: &str, format: OutputFormat) -> String {
        self.signed_url_for(clip_id, format, self.cfg.url_ttl_secs)
    }

    /// A download URL valid for `ttl_secs` simulated seconds.
    pub fn signed_url_for(&self, clip_id: &str, format: OutputFormat, ttl_secs: f64) -> String {
        let expires = now_ms() + self.scaled(ttl_secs).as_millis() as u64;
        let sig = self.signature(clip_id, expires);
        format!("{}/__sim/files/{clip_id}.{format}?exp={expires}&sig={sig}", self.base_url)
    }

    pub fn signature(&self, clip_id: &str, expires: u64) -> String {
        let mut h = Sha256::new();
        h.update(self.cfg.seed.to_le_bytes());
        h.update(clip_id.as_bytes());
        h.update(expires.to_le_bytes());
        hex::encode(&h.finalize()[..8])
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A UUID (v4-shaped) fixed by a string.
pub fn uuid_from(s: &str) -> uuid::Uuid {
    let d = Sha256::digest(s.as_bytes());
    uuid::Builder::from_random_bytes(d[..16].try_into().expect("16 bytes")).into_uuid()
}

/// A digest of a request body, to group submits of the same content in the ledger.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

/// The books as the outside sees them (`GET /__sim/ledger`, `/__sim/stats`).
impl Sim {
    pub fn ledger(&self) -> Ledger {
        let now = Instant::now();
        let inner = self.lock();
        let mut ledger = Ledger::default();
        ledger.entries.reserve_exact(inner.ledger.len());
        for b in &inner.ledger {
            let clips_billed = inner.clips_billed(b, now);
            let e = LedgerEntry {
                provider: b.provider,
                task_id: b.task_id.to_string(),
                model: inner.models[b.model as usize].to_string(),
                number_results: b.number_results,
                unit_cost_usd: b.unit_cost_usd,
                reports_cost: b.reports_cost,
                request_digest: b.request_digest.show(),
                clips_billed,
                billed_usd: round4(b.unit_cost_usd.unwrap_or(0.0) * f64::from(clips_billed)),
                options: b.options.as_deref().cloned().unwrap_or_default(),
            };
            ledger.total_usd += e.billed_usd;
            ledger.entries.push(e);
        }
        ledger.total_usd = round4(ledger.total_usd);
        ledger
    }

    /// [`Ledger::summary`] of the books now, without the ledger's entries.
    pub fn summary(&self) -> String {
        let now = Instant::now();
        let inner = self.lock();
        let mut totals = Totals::default();
        let mut total = 0.0;
        for b in &inner.ledger {
            let clips = inner.clips_billed(b, now);
            let usd = round4(b.unit_cost_usd.unwrap_or(0.0) * f64::from(clips));
            totals.add(b.provider, clips, usd);
            total += usd;
        }
        totals.total_usd = round4(total);
        totals.summary()
    }

    pub fn stats(&self) -> Stats {
        let inner = self.lock();
        Stats { providers: inner.stats.iter().map(|(p, s)| (p.name().to_owned(), s.clone())).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim(forget_after: Option<f64>) -> Sim {
        let cfg = SimConfig {
            render: crate::sim::RenderTime { min_secs: 0.0, max_secs: 0.0 },
            forget_delivered_after_secs: forget_after,
            ..SimConfig::default()
        };
        Sim::new(cfg, "http://127.0.0.1:1".into())
    }

    fn accept(sim: &Sim, id: &str) -> Task {
        sim.accept(Provider::Runware, id, id, "m", 1, (1280, 720), Some(0.25), true, digest(id.as_bytes()))
    }

    #[test]
    fn a_task_served_whole_is_forgotten_but_its_ledger_line_and_id_stay() {
        let sim = sim(Some(0.0));
        let task = accept(&sim, "t1");
        sim.served(Provider::Runware, "t1", &task.results[0].clip_id);
        assert!(sim.task(Provider::Runware, "t1").is_none(), "forgotten");
        assert!(sim.lock().files.is_empty(), "its clip's file too");
        assert!(sim.used(Provider::Runware, "t1"), "its id stays used");
        let ledger = sim.ledger();
        assert_eq!(ledger.entries.len(), 1);
        assert_eq!((ledger.entries[0].clips_billed, ledger.entries[0].billed_usd), (1, 0.25));
        assert_eq!(sim.summary(), ledger.summary());
        assert_eq!((ledger.entries[0].model.as_str(), ledger.entries[0].request_digest.clone()), ("m", digest(b"t1")));
    }

    #[test]
    fn the_books_give_back_any_digest_as_given() {
        let sim = sim(None);
        for d in [digest(b"x"), "0000000000000abc".into(), "ABCDEF0123456789".into(), "not hex".into(), "".into()] {
            sim.accept(Provider::Segmind, &d, &d, "m2", 1, (1, 1), None, false, d.clone());
            assert_eq!(sim.ledger().entries.last().unwrap().request_digest, d);
        }
    }

    #[test]
    fn without_the_setting_or_before_it_is_served_a_task_is_kept() {
        for (forget, serve) in [(None, true), (Some(0.0), false)] {
            let sim = sim(forget);
            let task = accept(&sim, "t1");
            if serve {
                sim.served(Provider::Runware, "t1", &task.results[0].clip_id);
            }
            accept(&sim, "t2"); // a sweep
            assert!(sim.task(Provider::Runware, "t1").is_some(), "{forget:?} {serve}");
            assert_eq!(sim.ledger().entries[0].clips_billed, 1);
        }
    }
}
