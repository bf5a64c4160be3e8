//! What a run needs from outside the manifest: command-line options, API keys and
//! base URLs from the environment (the environment wins over the manifest), the
//! lane limits, and the timing of polls.

use std::path::PathBuf;
use std::time::Duration;

use super::lane::LaneLimits;
use crate::catalog::Provider;
use crate::manifest::Manifest;

/// `shotlist run` options.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// The manifest (YAML).
    pub manifest: PathBuf,
    /// The out folder (default: the manifest's `output:`, else renders/<manifest stem>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Stop submitting once spent plus in-flight estimates would pass this (USD).
    #[arg(long, value_name = "USD")]
    pub max_cost: Option<f64>,
    /// Run the whole manifest on the built-in simulator, with dummy keys, into <out>-rehearsal.
    #[arg(long)]
    pub rehearse: bool,
    /// Only these shots (comma-separated ids).
    #[arg(long, value_name = "ID,...", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Send again the submits whose outcome is unknown (they may be billed twice).
    #[arg(long)]
    pub resubmit_in_doubt: bool,
    /// With --rehearse: real seconds per simulated second (default 0.02: 50× faster;
    /// 1: real speed). Renders, limits, polling and the ETA all follow it.
    #[arg(long, value_name = "F")]
    pub time_scale: Option<f64>,
    /// A simulator scenario for --rehearse (faults, limits), for tests.
    #[arg(long, hide = true)]
    pub sim_scenario: Option<PathBuf>,
    /// No progress bar (for scripts).
    #[arg(long, short)]
    pub quiet: bool,
    /// Keep the campaign's state in PostgreSQL (`postgres://...`), shared by every
    /// machine that runs it; left out, the out folder's journal.
    #[arg(long, env = "SHOTLIST_STATE", value_name = "URL", hide_env_values = true)]
    pub state: Option<String>,
}

/// The run's clock and when to give up (when to poll is `schedule`'s).
#[derive(Clone, Debug)]
pub struct Timing {
    pub time_scale: f64,
    /// A job with no result by then fails as timed out (its remote task is kept).
    pub deadline: Duration,
}

impl Timing {
    pub fn new(time_scale: f64) -> Timing {
        let s = |secs: f64| Duration::from_secs_f64(secs * time_scale);
        Timing { time_scale, deadline: s(3.0 * 3600.0) }
    }
}

// Which variables hold a provider's key and base URL is a fact of the provider.
pub use crate::provider::{base_var, default_base, key_var};

fn env(var: &str) -> Option<String> {
    std::env::var(var).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The base URL: environment, else manifest, else the provider's.
pub fn base_url(p: Provider, manifest: &Manifest) -> String {
    env(base_var(p))
        .or_else(|| manifest.providers.get(&p).and_then(|s| s.base_url.clone()))
        .unwrap_or_else(|| default_base(p).to_owned())
}

/// Template ids differ between MiniMax's hosts and the manifest was validated for
/// the host it names (`providers.minimax.baseUrl`, else global): a `MINIMAX_BASE_URL`
/// naming the other region's host would send ids that mean nothing (or another
/// template) there. A simulator or proxy URL is not judged.
pub fn template_host_mismatch(manifest: &Manifest, has_templates: bool) -> Option<String> {
    use crate::catalog::templates::Host;
    let env_url = env(base_var(Provider::Minimax))?;
    if !has_templates || !Host::is_minimax_host(&env_url) {
        return None;
    }
    let validated = manifest
        .providers
        .get(&Provider::Minimax)
        .and_then(|s| s.base_url.as_deref())
        .map_or(Host::Global, Host::of_base_url);
    let used = Host::of_base_url(&env_url);
    (used != validated).then(|| {
        format!(
            "MINIMAX_BASE_URL is {env_url} ({used}), but the manifest's templates were checked against the {validated} list, whose ids differ; set `providers.minimax.baseUrl: https://{used}` in the manifest (and check its templates with `shotlist plan`), or point MINIMAX_BASE_URL at {validated}"
        )
    })
}

/// The API key from the environment.
pub fn api_key(p: Provider) -> Option<String> {
    env(key_var(p))
}

/// The lane limits: manifest values over the defaults.
pub fn limits(p: Provider, manifest: &Manifest) -> LaneLimits {
    let mut l = LaneLimits::default_for(p);
    if let Some(s) = manifest.providers.get(&p) {
        if let Some(rpm) = s.requests_per_minute {
            l.submits_per_minute = rpm;
            l.rate_given = true;
            l.polls_per_minute = l.polls_per_minute.max(rpm);
        }
        if let Some(n) = s.max_in_flight {
            l.max_in_flight = n;
        }
    }
    l
}
