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
        let mut lines = Vec::new();
        for p in Provider::ALL {
            let entries: Vec<&LedgerEntry> = self.entries.iter().filter(|e| e.provider == p).collect();
            if entries.is_empty() {
                continue;
            }
            let clips: u32 = entries.iter().map(|e| e.clips_billed).sum();
            let usd: f64 = entries.iter().map(|e| e.billed_usd).sum();
            lines.push(format!("{p}: {} tasks accepted, {clips} clips billed, ${usd:.2}", entries.len()));
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
