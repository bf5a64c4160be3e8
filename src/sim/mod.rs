//! `shotlist sim`: one axum server that speaks the Runware, MiniMax and Segmind
//! video APIs at their real paths (a client changes only its base URL), with
//! seeded fault injection and a billing ledger that proves exactly-once billing.
//!
//! Started by `shotlist sim`, by tests in-process on `127.0.0.1:0`, and by
//! `run --rehearse`.

// Handlers return an early `Response` as their error: it is the answer, not a failure.
#![allow(clippy::result_large_err)]

pub mod cli;
pub mod config;
mod files;
mod ledger;
mod minimax;
mod minimax_template;
mod minimax_v2;
mod reply;
mod runware;
mod segmind;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::sync::oneshot;

pub use config::{ErrorShape, Faults, ProviderSim, RenderTime, SimConfig, UnknownTask};
pub use ledger::{Ledger, LedgerEntry, ProviderStats, SeenOptions, Stats};
use state::Sim;

/// A running simulator.
pub struct SimHandle {
    pub addr: SocketAddr,
    sim: Arc<Sim>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL each client is pointed at.
    pub fn base_url(&self, provider: crate::catalog::Provider) -> String {
        match provider {
            crate::catalog::Provider::Runware => format!("{}/v1", self.url()),
            _ => self.url(),
        }
    }

    pub fn ledger(&self) -> Ledger {
        self.sim.ledger()
    }

    pub fn stats(&self) -> Stats {
        self.sim.stats()
    }

    /// Stops accepting connections and returns the final ledger.
    pub async fn stop(mut self) -> Ledger {
        self.shut_down().await;
        self.sim.ledger()
    }

    /// Stops as [`SimHandle::stop`] does and returns the final ledger's
    /// [`Ledger::summary`] alone (a rehearsal's 100,000 entries are not built for it).
    pub async fn stop_summary(mut self) -> String {
        self.shut_down().await;
        self.sim.summary()
    }

    async fn shut_down(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // Open connections (a hanging request) must not keep the stop waiting.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), task).await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Binds `listen` and serves the simulator in the background.
pub async fn start(config: SimConfig, listen: SocketAddr) -> std::io::Result<SimHandle> {
    config.check().map_err(std::io::Error::other)?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let sim = Arc::new(Sim::new(config, format!("http://{addr}")));
    let app = router(sim.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(SimHandle { addr, sim, shutdown: Some(tx), task: Some(task) })
}

fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        // Runware: one endpoint, a JSON array of tasks.
        .route("/v1", post(runware::handle))
        // MiniMax v1.
        .route("/v1/video_generation", post(minimax::create))
        .route("/v1/query/video_generation", get(minimax::query))
        .route("/v1/files/retrieve", get(minimax::retrieve))
        // MiniMax v2 (H3); before Segmind's `/v2/{slug}`, which it would otherwise match.
        .route("/v2/video_generation", post(minimax_v2::create))
        .route("/v2/query/video_generation", get(minimax_v2::list))
        .route("/v2/query/video_generation/{id}", get(minimax_v2::query))
        // MiniMax video templates.
        .route("/v1/video_template_generation", post(minimax_template::create))
        .route("/v1/query/video_template_generation", get(minimax_template::query))
        // Segmind async v2.
        .route("/v2/requests/{id}/status", get(segmind::status))
        .route("/v2/requests/{id}", get(segmind::result))
        .route("/v2/{slug}", post(segmind::submit))
        // The simulator's own: clip downloads and the books.
        .route("/__sim/files/{name}", get(files::download))
        .route("/__sim/ledger", get(|State(sim): State<Arc<Sim>>| async move { Json(sim.ledger()) }))
        .route("/__sim/stats", get(|State(sim): State<Arc<Sim>>| async move { Json(sim.stats()) }))
        .with_state(sim)
}
