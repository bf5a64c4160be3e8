//! Clip downloads: real, playable MP4 bytes (a shipped 2 s H.264 clip plus an MP4
//! `free` box naming the clip, so every clip's bytes and hash differ), behind URLs
//! that expire (403 after), with truncated and trickling downloads on demand.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::state::{Sim, now_ms};

/// `assets/sim-clip.mp4` (how it was made: `assets/README.md`).
const BASE_CLIP: &[u8] = include_bytes!("../../assets/sim-clip.mp4");

/// The bytes of a clip: the base clip, then a `free` box (ignored by players)
/// holding the clip id and the configured padding.
pub fn clip_bytes(sim: &Sim, clip_id: &str) -> Vec<u8> {
    let payload_len = clip_id.len() + sim.cfg.clip_padding_bytes;
    let box_len = (8 + payload_len) as u32;
    let mut out = Vec::with_capacity(BASE_CLIP.len() + box_len as usize);
    out.extend_from_slice(BASE_CLIP);
    out.extend_from_slice(&box_len.to_be_bytes());
    out.extend_from_slice(b"free");
    out.extend_from_slice(clip_id.as_bytes());
    out.resize(out.len() + sim.cfg.clip_padding_bytes, 0);
    out
}

pub fn clip_len(sim: &Sim, clip_id: &str) -> usize {
    BASE_CLIP.len() + 8 + clip_id.len() + sim.cfg.clip_padding_bytes
}

pub async fn download(
    State(sim): State<Arc<Sim>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let clip_id = name.strip_suffix(".mp4").unwrap_or(&name).to_owned();
    let Some((provider, _)) = sim.lock().files.get(&clip_id).cloned() else {
        return (axum::http::StatusCode::NOT_FOUND, "NoSuchKey").into_response();
    };
    sim.count(provider, |s| s.downloads += 1);
    let expires: u64 = q.get("exp").and_then(|e| e.parse().ok()).unwrap_or(0);
    let signed = q.get("sig").is_some_and(|s| *s == sim.signature(&clip_id, expires));
    if !signed || now_ms() > expires {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
        return (axum::http::StatusCode::FORBIDDEN, [("content-type", "application/xml")], body).into_response();
    }
    let bytes = Bytes::from(clip_bytes(&sim, &clip_id));
    let faults = sim.cfg.faults(provider);
    let identity = format!("dl:{clip_id}");
    let nth = sim.attempt(&identity).to_string();
    let len = bytes.len();
    let headers = [("content-type", "video/mp4".to_owned()), ("content-length", len.to_string())];
    if sim.draw(&["truncate", &identity, &nth]) < faults.truncated_download {
        sim.count(provider, |s| s.faults_injected += 1);
        let half = bytes.slice(..len / 2);
        let stream = futures::stream::iter(vec![
            Ok::<Bytes, std::io::Error>(half),
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "simulated reset mid-download")),
        ]);
        return with_headers(Body::from_stream(stream), &headers);
    }
    if sim.draw(&["slow", &identity, &nth]) < faults.slow_download {
        sim.count(provider, |s| s.faults_injected += 1);
        let pause = Duration::from_millis(sim.cfg.slow_download_ms);
        let chunks: Vec<Bytes> = bytes.chunks(4096).map(Bytes::copy_from_slice).collect();
        let stream = futures::stream::unfold(chunks.into_iter(), move |mut it| async move {
            let chunk = it.next()?;
            tokio::time::sleep(pause).await;
            Some((Ok::<Bytes, std::io::Error>(chunk), it))
        });
        return with_headers(Body::from_stream(stream), &headers);
    }
    with_headers(Body::from(bytes), &headers)
}

fn with_headers(body: Body, headers: &[(&'static str, String)]) -> Response {
    let mut r = Response::new(body);
    for (k, v) in headers {
        if let Ok(v) = v.parse() {
            r.headers_mut().insert(*k, v);
        }
    }
    r
}
