//! STUB: replaced by the real protocol module.

use super::{Accepted, Endpoint, PollOutcome, PollTarget, ProviderError, SubmitRequest, VideoApi};
use crate::catalog::Provider;

pub struct SegmindClient {
    #[allow(dead_code)]
    endpoint: Endpoint,
}

impl SegmindClient {
    pub fn new(endpoint: Endpoint) -> Self {
        SegmindClient { endpoint }
    }
}

impl VideoApi for SegmindClient {
    fn provider(&self) -> Provider {
        Provider::Segmind
    }

    async fn submit(&self, _request: &SubmitRequest) -> Result<Accepted, ProviderError> {
        unimplemented!()
    }

    async fn poll(&self, _targets: &[PollTarget<'_>]) -> Result<Vec<PollOutcome>, ProviderError> {
        unimplemented!()
    }
}
