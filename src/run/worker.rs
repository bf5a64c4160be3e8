//! The units of work a dispatcher spawns: a submit, a poll of a batch, a download.
//! Workers wait on their provider's lane, make their exchange and report an event;
//! they never touch the journal or the job state (the dispatcher alone does).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::download::{self, FetchError, Fetched};
use super::lane::{Kind, Lane};
use super::store::Pace;
use crate::catalog::Provider;
use crate::plan::JobId;
use crate::provider::{
    Accepted, AnyClient, Clip, ErrorClass, PollOutcome, PollTarget, ProviderError, RemoteTask, SubmitRequest, VideoApi,
};

/// What workers tell the dispatcher.
pub enum Event {
    /// A submit is ready to go: the dispatcher writes the intent and answers with
    /// the attempt and `taskUUID` to send, or `None` to call it off.
    SubmitReady {
        id: JobId,
        go: oneshot::Sender<Option<(u32, Uuid)>>,
    },
    /// The submit was called off before sending.
    SubmitDropped {
        id: JobId,
    },
    Submitted {
        id: JobId,
        attempt: u32,
        result: Result<Accepted, ProviderError>,
    },
    Polled {
        provider: Provider,
        ids: Vec<JobId>,
        result: Result<Vec<PollOutcome>, ProviderError>,
    },
    Fetched {
        id: JobId,
        variant: u32,
        file: String,
        result: Result<Fetched, FetchError>,
        new_url: Option<String>,
    },
}

pub type Events = mpsc::UnboundedSender<Event>;

pub fn submit(
    pace: Option<Arc<dyn Pace>>,
    lane: Arc<Lane>,
    client: Arc<AnyClient>,
    id: JobId,
    mut request: SubmitRequest,
    events: Events,
) {
    lane.submit_queued();
    tokio::spawn(async move {
        lane.before_submit().await;
        // Runners sharing the account take turns at its pace, after this lane's own.
        if let Some(pace) = &pace {
            pace.before_submit().await;
        }
        let (tx, rx) = oneshot::channel();
        if events.send(Event::SubmitReady { id, go: tx }).is_err() {
            return;
        }
        let Ok(Some((attempt, task_uuid))) = rx.await else {
            let _ = events.send(Event::SubmitDropped { id });
            return;
        };
        request.task_uuid = task_uuid;
        lane.before_send().await;
        let result = client.submit(&request).await;
        match &result {
            Ok(_) => lane.submit_accepted(),
            Err(e) => note_rate(&lane, Kind::Submit, e),
        }
        if let (Some(pace), Err(e)) = (&pace, &result)
            && let Some(retry_after) = e.back_pressure()
        {
            pace.cool_down(retry_after).await;
        }
        let _ = events.send(Event::Submitted { id, attempt, result });
    });
}

pub fn poll(lane: Arc<Lane>, client: Arc<AnyClient>, batch: Vec<(JobId, RemoteTask, u32)>, events: Events) {
    tokio::spawn(async move {
        lane.before_poll().await;
        let targets: Vec<PollTarget<'_>> =
            batch.iter().map(|(_, task, n)| PollTarget { task, number_results: *n }).collect();
        let result = client.poll(&targets).await;
        match &result {
            Ok(_) => lane.poll_answered(),
            Err(e) => note_rate(&lane, Kind::Poll, e),
        }
        let ids = batch.into_iter().map(|(id, _, _)| id).collect();
        let _ = events.send(Event::Polled { provider: lane.provider, ids, result });
    });
}

/// A rate limit, or the provider's queue full (Runware 503/504), slows the whole lane.
fn note_rate(lane: &Lane, kind: Kind, error: &ProviderError) {
    match (&error.class, error.back_pressure()) {
        (ErrorClass::RateLimited { retry_after }, _) => lane.rate_limited(kind, *retry_after),
        (_, Some(_)) => lane.back_pressure(kind),
        (_, None) => {}
    }
}

/// How many times a download is tried (transient failures and URL refreshes).
const DOWNLOAD_TRIES: u32 = 5;

/// Downloads a clip, retrying transient failures and refreshing an expired URL
/// where the protocol allows (MiniMax `files/retrieve`). Never resubmits.
#[allow(clippy::too_many_arguments)]
pub fn fetch(
    http: reqwest::Client,
    client: Arc<AnyClient>,
    task: Option<RemoteTask>,
    id: JobId,
    variant: u32,
    clip: Clip,
    dest: PathBuf,
    file: String,
    time_scale: f64,
    limit: Arc<tokio::sync::Semaphore>,
    events: Events,
) {
    tokio::spawn(async move {
        let _permit = limit.acquire_owned().await;
        let mut url = clip.video_url.clone();
        let mut new_url = None;
        let mut result = Err(FetchError::Transient("not tried".into()));
        for attempt in 0..DOWNLOAD_TRIES {
            result = download::fetch(&http, &url, &dest).await;
            match &result {
                Ok(_) | Err(FetchError::Refused(_) | FetchError::Disk(_)) => break,
                Err(FetchError::Expired(_)) => {
                    let fresh = match &task {
                        Some(t) => client.refresh_url(t, &clip).await.ok().flatten(),
                        None => None,
                    };
                    match fresh {
                        Some(u) if u != url => {
                            url = u.clone();
                            new_url = Some(u);
                        }
                        _ => break,
                    }
                }
                Err(FetchError::Transient(_)) => {
                    let wait = Duration::from_secs_f64(2f64.powi(attempt as i32) * time_scale.max(0.001));
                    tokio::time::sleep(wait.min(Duration::from_secs(30))).await;
                }
            }
        }
        let _ = events.send(Event::Fetched { id, variant, file, result, new_url });
    });
}
