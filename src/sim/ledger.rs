//! The simulator's books (data only): every accepted task with what it bills, and
//! request counts per provider. `state` fills them in. Tests read them (`GET /__sim/ledger`, `/__sim/stats`) to
//! prove exactly-once billing and to count rate-limited answers.

use std::collections::BTreeMap;

use crate::catalog::Provider;

/// One accepted task. A provider bills each clip it delivers; failed clips are free.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LedgerEntry {
    pub provider: Provider,
    pub task_id: String,
    pub model: String,
    pub number_results: u32,
    /// The price of one clip; `None` where the simulator has none to charge.
    pub unit_cost_usd: Option<f64>,
    /// Whether the protocol tells the client the cost (MiniMax does not).
    pub reports_cost: bool,
    /// Digest of the submitted body: submits of the same content share it.
    pub request_digest: String,
    /// Clips finished successfully so far, and what they bill.
    pub clips_billed: u32,
    pub billed_usd: f64,
    /// The clip options the submit asked for, as the simulator read them.
    #[serde(default)]
    pub options: SeenOptions,
}

/// The options a submit carried (absent: not sent), so tests can prove what reached
/// the provider.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SeenOptions {
    /// Runware `outputFormat` as sent (`WEBM`).
    pub output_format: Option<String>,
    pub output_quality: Option<u64>,
    /// Runware `safety.mode` when `checkContent` was true.
    pub safety_mode: Option<String>,
    pub ttl_secs: Option<u64>,
    /// MiniMax `fast_pretreatment`, `aigc_watermark`.
    pub fast_pretreatment: Option<bool>,
    pub watermark: Option<bool>,
    /// MiniMax video templates: `template_id` and how many inputs of each kind.
    pub template_id: Option<String>,
    pub media_inputs: Option<usize>,
    pub text_inputs: Option<usize>,
}

/// The ledger at one moment.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ledger {
    pub entries: Vec<LedgerEntry>,
    pub total_usd: f64,
}

impl Ledger {
    pub fn count(&self, provider: Provider) -> usize {
        self.entries.iter().filter(|e| e.provider == provider).count()
    }

    /// A one-line summary per provider, printed when `shotlist sim` stops.
    pub fn summary(&self) -> String {
        let mut totals = Totals::default();
        for e in &self.entries {
            totals.add(e.provider, e.clips_billed, e.billed_usd);
        }
        totals.total_usd = self.total_usd;
        totals.summary()
    }
}

/// What [`Ledger::summary`] says, summed entry by entry: a rehearsal's books give it
/// without building a [`LedgerEntry`] for each of their 100,000 tasks.
#[derive(Default)]
pub struct Totals {
    /// Per provider (in `Provider::ALL` order): tasks, clips billed, dollars billed.
    per: Vec<(Provider, usize, u32, f64)>,
    pub total_usd: f64,
}

impl Totals {
    /// One entry more, in the books' order (the sums are the same as the ledger's).
    pub fn add(&mut self, provider: Provider, clips_billed: u32, billed_usd: f64) {
        let at = match self.per.iter().position(|t| t.0 == provider) {
            Some(at) => at,
            None => {
                self.per.push((provider, 0, 0, 0.0));
                self.per.len() - 1
            }
        };
        let t = &mut self.per[at];
        t.1 += 1;
        t.2 += clips_billed;
        t.3 += billed_usd;
    }

    pub fn summary(&self) -> String {
        let mut lines = Vec::new();
        for p in Provider::ALL {
            let Some((_, tasks, clips, usd)) = self.per.iter().find(|t| t.0 == p) else { continue };
            lines.push(format!("{p}: {tasks} tasks accepted, {clips} clips billed, ${usd:.2}"));
        }
        if lines.is_empty() {
            lines.push("no task was accepted".into());
        }
        format!("ledger: {}\nledger total: ${:.2}", lines.join("; "), self.total_usd)
    }
}

/// Requests seen per provider.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProviderStats {
    pub submits: u64,
    pub polls: u64,
    pub downloads: u64,
    pub accepted: u64,
    pub rate_limited: u64,
    pub faults_injected: u64,
    pub auth_refused: u64,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    pub providers: BTreeMap<String, ProviderStats>,
}

pub fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}
