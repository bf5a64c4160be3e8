//! Test helpers shared by the three protocol modules' tests.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use uuid::Uuid;

use super::http::Answer;
use super::{ApiKey, Endpoint, ImageInput, ProviderError, SubmitRequest};
use crate::catalog::{Mode, Resolution};

/// The key the leak checks look for.
pub const LEAK_KEY: &str = "sk-LEAK-CHECK";

pub const TASK_UUID: &str = "6f1c2a8e-3d4b-4c5a-9e7f-0a1b2c3d4e5f";

/// An answer as `exchange` would return it.
pub fn answer(status: u16, body: &str) -> Answer {
    answer_with(status, &[], body)
}

pub fn answer_with(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    Answer { status, headers: map, body: body.as_bytes().to_vec() }
}

/// A text-to-video request for `model`, 768p, 6 s, one result.
pub fn request(model: &str) -> SubmitRequest {
    SubmitRequest {
        task_uuid: Uuid::parse_str(TASK_UUID).unwrap(),
        model_id: model.to_owned(),
        mode: Mode::Text,
        prompt: Some("A stone drops into a calm pond [Push in]".into()),
        resolution: Resolution::P768,
        duration: 6,
        fps: 25,
        number_results: 1,
        prompt_optimizer: false,
        first_frame: None,
        last_frame: None,
        subject: None,
        ratio: None,
        references: Default::default(),
        options: Default::default(),
        ttl_secs: None,
        template: None,
    }
}

pub fn url(s: &str) -> Option<ImageInput> {
    Some(ImageInput::Url(s.to_owned()))
}

pub fn endpoint(base_url: impl Into<String>, key: &str) -> Endpoint {
    Endpoint::new(base_url, ApiKey::new(key))
}

/// Fails if `key` shows in the error's Display or Debug.
pub fn assert_no_key(e: &ProviderError, key: &str) {
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(key), "the key leaked: {shown}");
}
