//! The simulator's knobs: per-provider limits, fault rates and render times, from
//! command-line flags or a scenario file (YAML, camelCase). Everything random is
//! drawn from the seed, so a scenario replays identically.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::catalog::Provider;

/// How often each fault happens, as a probability per request (0 to 1).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Faults {
    /// A 5xx before anything is processed (not accepted).
    pub http5xx: f64,
    /// The connection drops before the request is processed (not accepted).
    pub reset_before: f64,
    /// The request is processed (a submit is accepted and billed), then the
    /// connection drops before the answer.
    pub reset_after: f64,
    /// The request is processed, then the answer never comes (until `hangSecs`).
    pub no_answer: f64,
    /// The request is processed and answered with a body that is not JSON.
    pub malformed_json: f64,
    /// The task is accepted, then fails on the provider's side.
    pub provider_failure: f64,
    /// A submit is refused by input moderation.
    pub content_blocked_input: f64,
    /// The task is accepted, then its output is blocked by moderation.
    pub content_blocked_output: f64,
    /// A download stops halfway (the connection drops).
    pub truncated_download: f64,
    /// A download trickles (small chunks with pauses of `slowDownloadMs`).
    pub slow_download: f64,
}

/// Render time of one clip, in simulated seconds (scaled by `timeScale`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RenderTime {
    pub min_secs: f64,
    pub max_secs: f64,
}

impl Default for RenderTime {
    fn default() -> Self {
        RenderTime { min_secs: 60.0, max_secs: 180.0 }
    }
}

/// One provider's behaviour in the simulator.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderSim {
    /// Submits allowed per real minute (sliding window); more are rate-limited.
    pub requests_per_minute: Option<u32>,
    /// Polls allowed per real minute; more are rate-limited.
    pub polls_per_minute: Option<u32>,
    /// The sliding window the per-minute limits are counted over, in simulated
    /// seconds (default 60): 10 allows a tenth of the limit in any 10 s, a smoother
    /// limit that a burst meets sooner.
    pub rate_window_secs: Option<f64>,
    /// Tasks rendering at once; more submits are rate-limited.
    pub max_concurrent: Option<u32>,
    /// Accepted jobs after which submits fail for lack of credits.
    pub credits_after: Option<u32>,
    /// The only API key accepted; any non-empty key when unset.
    pub api_key: Option<String>,
    pub render: Option<RenderTime>,
    /// Overrides the scenario-wide faults for this provider.
    pub faults: Option<Faults>,
}

/// The whole simulator configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct SimConfig {
    pub seed: u64,
    /// Real seconds per simulated second: 0.01 makes a 2-minute render take 1.2 s.
    pub time_scale: f64,
    pub render: RenderTime,
    /// Faults for every provider (a provider's own `faults` replace these).
    pub faults: Faults,
    pub providers: BTreeMap<String, ProviderSim>,
    /// Lifetime of a download URL, simulated seconds (MiniMax documents 1 hour).
    pub url_ttl_secs: f64,
    /// How long Segmind keeps a request record, simulated seconds (1 hour).
    pub segmind_retention_secs: f64,
    /// Real seconds a "no answer" fault holds the request before answering.
    pub hang_secs: f64,
    /// Real milliseconds between chunks of a slow download.
    pub slow_download_ms: u64,
    /// Extra bytes appended to every clip (to make downloads weigh something).
    pub clip_padding_bytes: usize,
    /// Runware: report task failures in `errors[]` ("top"), as a `data[]` item with
    /// a nested `error` ("nested"), or either at random ("mixed").
    pub runware_error_shape: ErrorShape,
    /// Runware: answer `getResponse` for an unknown task with `{"data":[]}`
    /// ("empty") or a `taskNotFound` error ("notFound").
    pub runware_unknown_task: UnknownTask,
    /// Send `Retry-After` with rate-limit answers where the protocol has it.
    pub retry_after: bool,
    /// A prompt containing this word is refused by input moderation.
    pub blocked_word: String,
    /// A prompt holding this word (when not empty) is flagged `NSFWContent: true` by
    /// a Runware safety check; the clip is still delivered and billed.
    pub nsfw_word: String,
    /// A MiniMax key starting with this is from "the other region" (error 2049).
    pub minimax_other_region_prefix: String,
    /// How long MiniMax v2 (H3) tasks can be queried and listed, simulated seconds
    /// (MiniMax: 7 days).
    pub minimax_v2_retention_secs: f64,
    /// Simulated seconds a task is kept once every clip of it was served whole, then
    /// forgotten but for its line in the ledger (`None`: kept for good). Set by `run
    /// --rehearse` only, whose runner never asks again for a clip it has; not in
    /// scenario files.
    #[serde(skip)]
    pub forget_delivered_after_secs: Option<f64>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            time_scale: 1.0,
            render: RenderTime::default(),
            faults: Faults::default(),
            providers: BTreeMap::new(),
            url_ttl_secs: 3600.0,
            segmind_retention_secs: 3600.0,
            hang_secs: 60.0,
            slow_download_ms: 50,
            clip_padding_bytes: 0,
            runware_error_shape: ErrorShape::Top,
            runware_unknown_task: UnknownTask::Empty,
            retry_after: true,
            blocked_word: "FORBIDDEN-SCENE".to_owned(),
            nsfw_word: "NSFW-SCENE".to_owned(),
            minimax_other_region_prefix: "other-region-".to_owned(),
            minimax_v2_retention_secs: 7.0 * 24.0 * 3600.0,
            forget_delivered_after_secs: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum ErrorShape {
    #[default]
    Top,
    Nested,
    Mixed,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum UnknownTask {
    #[default]
    Empty,
    NotFound,
}

impl SimConfig {
    /// Reads a scenario file; unknown keys are errors.
    pub fn from_file(path: &Path) -> Result<SimConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let config: SimConfig = serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        config.check()?;
        Ok(config)
    }

    pub fn check(&self) -> Result<(), String> {
        for name in self.providers.keys() {
            if Provider::parse(name).is_none() {
                return Err(format!("unknown provider `{name}` in the scenario (runware, minimax, segmind)"));
            }
        }
        if !(self.time_scale > 0.0 && self.time_scale.is_finite()) {
            return Err("timeScale must be a positive number".into());
        }
        Ok(())
    }

    pub fn provider(&self, p: Provider) -> ProviderSim {
        self.providers.get(p.name()).cloned().unwrap_or_default()
    }

    pub fn faults(&self, p: Provider) -> Faults {
        self.provider(p).faults.unwrap_or_else(|| self.faults.clone())
    }

    pub fn render(&self, p: Provider) -> RenderTime {
        self.provider(p).render.unwrap_or_else(|| self.render.clone())
    }

    /// Mutable access to a provider's settings, created on first use.
    pub fn provider_mut(&mut self, p: Provider) -> &mut ProviderSim {
        self.providers.entry(p.name().to_owned()).or_default()
    }
}
