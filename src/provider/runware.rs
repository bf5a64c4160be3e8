//! STUB: replaced by the real protocol module.

use super::{Accepted, Endpoint, PollOutcome, PollTarget, ProviderError, SubmitRequest, VideoApi};
use crate::catalog::Provider;

pub struct RunwareClient {
    #[allow(dead_code)]
    endpoint: Endpoint,
}

impl RunwareClient {
    pub fn new(endpoint: Endpoint) -> Self {
        RunwareClient { endpoint }
    }
}

impl VideoApi for RunwareClient {
    fn provider(&self) -> Provider {
        Provider::Runware
    }

    async fn submit(&self, _request: &SubmitRequest) -> Result<Accepted, ProviderError> {
        unimplemented!()
    }

    async fn poll(&self, _targets: &[PollTarget<'_>]) -> Result<Vec<PollOutcome>, ProviderError> {
        unimplemented!()
    }
}
