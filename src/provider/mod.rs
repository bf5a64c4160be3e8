//! Provider clients: one module per wire protocol (Runware, MiniMax, Segmind) behind
//! the [`VideoApi`] trait. Each maps every answer onto one error taxonomy
//! ([`ErrorClass`]) so that the runner decides retries, halts and in-doubt states
//! the same way for all three. Clients make exactly one HTTP exchange per call (two
//! for a MiniMax or Segmind poll that finds a finished task: query or status, then
//! the file or result) and never retry on their own: retry timing belongs to the
//! runner's limiter.

pub mod error;
pub mod http;
pub mod minimax;
mod minimax_codes;
pub mod minimax_template;
pub mod minimax_v2;
pub mod reconcile;
pub mod request;
pub mod runware;
pub mod segmind;
#[cfg(test)]
mod testkit;

use std::time::Duration;

pub use error::{ErrorClass, ProviderError};
pub use http::{ApiKey, Endpoint};
pub use reconcile::{Reconciled, Window};
pub use request::{ImageInput, ReferenceInputs, SubmitRequest, TemplateRequest};

use crate::catalog::Provider;

/// What a provider's protocol can do, so the runner asks instead of naming providers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// A re-sent submit carries our own key (Runware `taskUUID`): the provider answers
    /// "already accepted" instead of starting (and billing) a second task, so an
    /// unanswered submit is simply sent again.
    pub idempotent_submit: bool,
    /// How many tasks one poll request may cover.
    pub poll_batch: usize,
    /// One task renders several results (`numberResults`).
    pub batches_results: bool,
    /// An expired download URL can be asked for again.
    pub refreshes_urls: bool,
    /// The output size is part of the request (known before the clip is).
    pub sized_by_request: bool,
    /// Where a lane starts without a manifest limit: the documented submit rate per
    /// minute, the poll rate, and a cap on jobs in flight high enough never to be what
    /// bounds a night (none of the three documents one).
    pub documented_limits: (u32, u32, u32),
    /// HTTP statuses (besides 429) the provider documents as its queue being full:
    /// retried like a rate limit, and the lane slows down (not a per-task backoff).
    pub back_pressure_statuses: &'static [u16],
    /// A 429 means a per-minute window (MiniMax's RPM): without Retry-After, a slot
    /// frees when the oldest submit of the last minute leaves it. Runware's 429 is its
    /// queue pushing back (no window documented): the growing backoff alone.
    pub windowed_rate_limit: bool,
}

/// The capabilities of each provider's protocol (see `docs/protocols.md`).
pub fn capabilities(provider: Provider) -> Capabilities {
    match provider {
        Provider::Runware => Capabilities {
            idempotent_submit: true,
            poll_batch: runware::MAX_POLL_BATCH,
            batches_results: true,
            refreshes_urls: false,
            sized_by_request: true,
            // No hard limit documented; 429/503/504 are queue back-pressure.
            documented_limits: (120, 600, 10_000),
            // "503 Temporary capacity constraint", "504 Request exceeded maximum queue wait time".
            back_pressure_statuses: &[503, 504],
            windowed_rate_limit: false,
        },
        Provider::Minimax => Capabilities {
            idempotent_submit: false,
            poll_batch: 1,
            batches_results: false,
            refreshes_urls: true,
            sized_by_request: false,
            // 5 video requests a minute on the free plan (20 on paid plans).
            documented_limits: (5, 60, 1_000),
            back_pressure_statuses: &[],
            windowed_rate_limit: true,
        },
        Provider::Segmind => Capabilities {
            idempotent_submit: false,
            poll_batch: 1,
            batches_results: false,
            refreshes_urls: false,
            sized_by_request: false,
            // The free plan's 5 requests a minute.
            documented_limits: (5, 60, 1_000),
            back_pressure_statuses: &[],
            windowed_rate_limit: true,
        },
    }
}

/// The environment variable that holds the provider's API key.
pub fn key_var(p: Provider) -> &'static str {
    match p {
        Provider::Runware => "RUNWARE_API_KEY",
        Provider::Minimax => "MINIMAX_API_KEY",
        Provider::Segmind => "SEGMIND_API_KEY",
    }
}

/// The environment variable that overrides the provider's base URL.
pub fn base_var(p: Provider) -> &'static str {
    match p {
        Provider::Runware => "RUNWARE_BASE_URL",
        Provider::Minimax => "MINIMAX_BASE_URL",
        Provider::Segmind => "SEGMIND_BASE_URL",
    }
}

/// The provider's documented base URL.
pub fn default_base(p: Provider) -> &'static str {
    match p {
        Provider::Runware => "https://api.runware.ai/v1",
        Provider::Minimax => "https://api.minimax.io",
        Provider::Segmind => "https://api.segmind.com",
    }
}

/// A task the provider accepted, as needed to poll it later (journaled by the runner).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteTask {
    /// Runware `taskUUID`, MiniMax `task_id`, Segmind `request_id`.
    pub id: String,
    /// Segmind's `status_url` (clients must follow the returned URLs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_url: Option<String>,
    /// Segmind's `response_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_url: Option<String>,
    /// MiniMax: the API the task lives on (H3 tasks are on v2); absent means v1.
    #[serde(default, skip_serializing_if = "crate::catalog::Api::is_v1")]
    pub api: crate::catalog::Api,
    /// Which MiniMax endpoint family the task lives on (left out for a video task).
    #[serde(default, skip_serializing_if = "TaskKind::is_video")]
    pub kind: TaskKind,
}

/// MiniMax polls a template task on its own query endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    #[default]
    Video,
    /// `/v1/video_template_generation`.
    Template,
}

impl TaskKind {
    pub fn is_video(&self) -> bool {
        *self == TaskKind::Video
    }
}

/// The answer to a submit that the provider accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    pub task: RemoteTask,
    /// Runware answered `conflictTaskUUID` for our own re-sent `taskUUID`: the
    /// earlier send was accepted (and billed); nothing new was started.
    pub replayed: bool,
}

/// One finished video, as the provider describes it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Clip {
    pub video_url: String,
    /// Runware `videoUUID`, MiniMax `file_id`, Segmind `request_id`: what identifies
    /// the clip remotely (MiniMax refreshes an expired URL with it).
    pub remote_id: String,
    #[serde(default)]
    pub seed: Option<u64>,
    /// What the provider says this clip cost, if it says.
    #[serde(default)]
    pub cost_usd: Option<f64>,
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
    /// MiniMax v2: the seconds the task's `usage` reports (what it is billed for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_secs: Option<f64>,
    /// The cost computed by shotlist from the reported usage at the catalog's list
    /// price (the report's `cost_source` `list`); `cost_usd` stays what the
    /// provider itself says, and MiniMax says none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_cost_usd: Option<f64>,
    /// Runware's `NSFWContent` verdict, when the shot asked for a safety check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nsfw: Option<bool>,
}

/// What a poll found for one task.
#[derive(Clone, Debug, PartialEq)]
pub enum PollOutcome {
    /// Not finished. `clips` holds results already finished (Runware reports them
    /// as they come); the runner may download them at once.
    Pending { progress: Option<u8>, clips: Vec<Clip> },
    /// Every result is there.
    Done { clips: Vec<Clip> },
    /// The task ended without a (complete) result.
    Failed(ProviderError),
    /// Some results finished (and are billed), the others failed: the clips must
    /// still be collected.
    PartlyFailed { clips: Vec<Clip>, error: ProviderError },
}

/// A task to poll and how many results it should yield.
#[derive(Clone, Debug)]
pub struct PollTarget<'a> {
    pub task: &'a RemoteTask,
    pub number_results: u32,
}

/// One provider's wire protocol.
#[allow(async_fn_in_trait)]
pub trait VideoApi {
    fn provider(&self) -> Provider;

    /// How many tasks one poll request may cover (Runware batches `getResponse`).
    fn max_poll_batch(&self) -> usize {
        1
    }

    /// Sends one submit. An error's class says whether the task may have been
    /// accepted (`InDoubt`) or certainly was not (everything else).
    async fn submit(&self, request: &SubmitRequest) -> Result<Accepted, ProviderError>;

    /// Polls up to [`VideoApi::max_poll_batch`] tasks in one request. The outer error
    /// is the request's own failure; the inner results are per task, in order.
    async fn poll(&self, targets: &[PollTarget<'_>]) -> Result<Vec<PollOutcome>, ProviderError>;

    /// A fresh download URL for a clip whose URL expired, where the protocol allows
    /// it (MiniMax `files/retrieve`); `None` where it does not.
    async fn refresh_url(&self, _task: &RemoteTask, _clip: &Clip) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }

    /// Looks up a submit whose answer was lost among the account's recent tasks
    /// (MiniMax v2 lists them); protocols that cannot list say so.
    async fn find_submitted(&self, _request: &SubmitRequest, _window: &Window) -> Result<Reconciled, ProviderError> {
        Ok(Reconciled::CannotLookUp)
    }
}

/// The client for a provider, chosen at run time.
pub enum AnyClient {
    Runware(runware::RunwareClient),
    Minimax(minimax::MinimaxClient),
    Segmind(segmind::SegmindClient),
}

impl AnyClient {
    pub fn new(provider: Provider, endpoint: Endpoint) -> Self {
        match provider {
            Provider::Runware => AnyClient::Runware(runware::RunwareClient::new(endpoint)),
            Provider::Minimax => AnyClient::Minimax(minimax::MinimaxClient::new(endpoint)),
            Provider::Segmind => AnyClient::Segmind(segmind::SegmindClient::new(endpoint)),
        }
    }
}

impl VideoApi for AnyClient {
    fn provider(&self) -> Provider {
        match self {
            AnyClient::Runware(c) => c.provider(),
            AnyClient::Minimax(c) => c.provider(),
            AnyClient::Segmind(c) => c.provider(),
        }
    }

    fn max_poll_batch(&self) -> usize {
        match self {
            AnyClient::Runware(c) => c.max_poll_batch(),
            AnyClient::Minimax(c) => c.max_poll_batch(),
            AnyClient::Segmind(c) => c.max_poll_batch(),
        }
    }

    async fn submit(&self, request: &SubmitRequest) -> Result<Accepted, ProviderError> {
        match self {
            AnyClient::Runware(c) => c.submit(request).await,
            AnyClient::Minimax(c) => c.submit(request).await,
            AnyClient::Segmind(c) => c.submit(request).await,
        }
    }

    async fn poll(&self, targets: &[PollTarget<'_>]) -> Result<Vec<PollOutcome>, ProviderError> {
        match self {
            AnyClient::Runware(c) => c.poll(targets).await,
            AnyClient::Minimax(c) => c.poll(targets).await,
            AnyClient::Segmind(c) => c.poll(targets).await,
        }
    }

    async fn refresh_url(&self, task: &RemoteTask, clip: &Clip) -> Result<Option<String>, ProviderError> {
        match self {
            AnyClient::Runware(c) => c.refresh_url(task, clip).await,
            AnyClient::Minimax(c) => c.refresh_url(task, clip).await,
            AnyClient::Segmind(c) => c.refresh_url(task, clip).await,
        }
    }

    async fn find_submitted(&self, request: &SubmitRequest, window: &Window) -> Result<Reconciled, ProviderError> {
        match self {
            AnyClient::Runware(c) => c.find_submitted(request, window).await,
            AnyClient::Minimax(c) => c.find_submitted(request, window).await,
            AnyClient::Segmind(c) => c.find_submitted(request, window).await,
        }
    }
}

/// Default deadline of one submit or poll exchange (downloads have their own).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
