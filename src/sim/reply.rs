//! Answers every protocol gives alike: JSON with headers, a dropped connection, a
//! body that is not JSON, and an answer held back until the client gives up.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

/// JSON with a status and extra headers.
pub fn json(status: u16, value: serde_json::Value, headers: &[(&str, String)]) -> Response {
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(*k), HeaderValue::from_str(v)) {
            h.insert(name, value);
        }
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, h, axum::Json(value)).into_response()
}

/// Headers go out, then the connection drops: the client cannot know whether the
/// request took effect.
pub fn dropped() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "simulated reset"))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .expect("static response parts")
}

/// A 200 whose body is not JSON (a proxy's error page, a truncated write).
pub fn malformed() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from("<html><body>502 upstream hiccup</body></html>{\"data\":"))
        .expect("static response parts")
}

/// Holds the answer for `secs` real seconds (the client should time out first).
pub async fn hold(secs: f64) {
    tokio::time::sleep(Duration::from_secs_f64(secs.clamp(0.0, 3600.0))).await;
}

/// Faults that strike after a request was processed (a submit is then billed):
/// the answer is held back, cut off, or replaced by a body that is not JSON.
pub async fn late_fault(sim: &super::state::Sim, fault: super::state::Fault, answer: Response) -> Response {
    use super::state::Fault;
    match fault {
        Fault::NoAnswer => {
            hold(sim.cfg.hang_secs).await;
            answer
        }
        Fault::ResetAfter => dropped(),
        Fault::MalformedJson => malformed(),
        _ => answer,
    }
}
