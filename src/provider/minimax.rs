//! STUB: replaced by the real protocol module.

use super::{Accepted, Endpoint, PollOutcome, PollTarget, ProviderError, SubmitRequest, VideoApi};
use crate::catalog::Provider;

pub struct MinimaxClient {
    #[allow(dead_code)]
    endpoint: Endpoint,
}

impl MinimaxClient {
    pub fn new(endpoint: Endpoint) -> Self {
        MinimaxClient { endpoint }
    }
}

impl VideoApi for MinimaxClient {
    fn provider(&self) -> Provider {
        Provider::Minimax
    }

    async fn submit(&self, _request: &SubmitRequest) -> Result<Accepted, ProviderError> {
        unimplemented!()
    }

    async fn poll(&self, _targets: &[PollTarget<'_>]) -> Result<Vec<PollOutcome>, ProviderError> {
        unimplemented!()
    }
}
