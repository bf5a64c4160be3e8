//! Clip downloads: real, playable clips in the container the submit asked for
//! (shipped 2 s clips: H.264 in MP4 or QuickTime MOV, VP9 in WebM), each made
//! distinct by a trailing element naming the clip (an MP4/MOV `free` box, a WebM
//! `Void` element), behind URLs that expire (403 after), with truncated and
//! trickling downloads on demand.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::state::{Sim, now_ms};
use crate::catalog::output::OutputFormat;

/// `assets/sim-clip.mp4`, `.mov` and `.webm` (how they were made: `assets/README.md`).
const BASE_MP4: &[u8] = include_bytes!("../../assets/sim-clip.mp4");
const BASE_MOV: &[u8] = include_bytes!("../../assets/sim-clip.mov");
const BASE_WEBM: &[u8] = include_bytes!("../../assets/sim-clip.webm");

/// Where the WebM's Segment size sits: the Segment id `18 53 80 67` right after the
/// 36-byte EBML header, then an 8-byte size (`01` and 7 bytes).
const WEBM_SEGMENT_SIZE_AT: usize = 40;

fn payload(sim: &Sim, clip_id: &str) -> Vec<u8> {
    let mut p = clip_id.as_bytes().to_vec();
    p.resize(p.len() + sim.cfg.clip_padding_bytes, 0);
    p
}

/// The bytes of a clip: the base clip of its container, then an element players
/// skip holding the clip id and the configured padding.
pub fn clip_bytes(sim: &Sim, clip_id: &str, format: OutputFormat) -> Vec<u8> {
    let payload = payload(sim, clip_id);
    match format {
        OutputFormat::Mp4 | OutputFormat::Mov => {
            let base = if format == OutputFormat::Mp4 { BASE_MP4 } else { BASE_MOV };
            let box_len = (8 + payload.len()) as u32;
            let mut out = Vec::with_capacity(base.len() + box_len as usize);
            out.extend_from_slice(base);
            out.extend_from_slice(&box_len.to_be_bytes());
            out.extend_from_slice(b"free");
            out.extend_from_slice(&payload);
            out
        }
        OutputFormat::Webm => {
            // A Void element (id EC, 8-byte size) as the Segment's last child; the
            // Segment's size grows by as much, so demuxers read it as part of the file.
            let mut void = vec![0xEC, 0x01];
            void.extend_from_slice(&(payload.len() as u64).to_be_bytes()[1..]);
            void.extend_from_slice(&payload);
            let mut out = BASE_WEBM.to_vec();
            let at = WEBM_SEGMENT_SIZE_AT;
            let mut size = [0u8; 8];
            size[1..].copy_from_slice(&out[at + 1..at + 8]);
            let grown = u64::from_be_bytes(size) + void.len() as u64;
            out[at + 1..at + 8].copy_from_slice(&grown.to_be_bytes()[1..]);
            out.extend_from_slice(&void);
            out
        }
    }
}

pub fn clip_len(sim: &Sim, clip_id: &str, format: OutputFormat) -> usize {
    let base = match format {
        OutputFormat::Mp4 => BASE_MP4.len(),
        OutputFormat::Mov => BASE_MOV.len(),
        OutputFormat::Webm => BASE_WEBM.len() + 1, // Void's 9-byte header vs the box's 8
    };
    base + 8 + clip_id.len() + sim.cfg.clip_padding_bytes
}

fn content_type(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::Mp4 => "video/mp4",
        OutputFormat::Mov => "video/quicktime",
        OutputFormat::Webm => "video/webm",
    }
}

pub async fn download(
    State(sim): State<Arc<Sim>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (clip_id, format) = match name.rsplit_once('.') {
        Some((id, ext)) => (id.to_owned(), OutputFormat::from_extension(ext).unwrap_or_default()),
        None => (name.clone(), OutputFormat::Mp4),
    };
    let Some((provider, task_id)) = sim.lock().files.get(&clip_id).cloned() else {
        return (axum::http::StatusCode::NOT_FOUND, "NoSuchKey").into_response();
    };
    sim.count(provider, |s| s.downloads += 1);
    let expires: u64 = q.get("exp").and_then(|e| e.parse().ok()).unwrap_or(0);
    let signed = q.get("sig").is_some_and(|s| *s == sim.signature(&clip_id, expires));
    if !signed || now_ms() > expires {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
        return (axum::http::StatusCode::FORBIDDEN, [("content-type", "application/xml")], body).into_response();
    }
    let bytes = Bytes::from(clip_bytes(&sim, &clip_id, format));
    let faults = sim.cfg.faults(provider);
    let identity = format!("dl:{clip_id}");
    // Counted only where a fault may be drawn from it (one counter a clip otherwise).
    let drawn = faults.truncated_download > 0.0 || faults.slow_download > 0.0;
    let nth = if drawn { sim.attempt(&identity).to_string() } else { String::new() };
    let len = bytes.len();
    let headers = [("content-type", content_type(format).to_owned()), ("content-length", len.to_string())];
    if sim.draw(&["truncate", &identity, &nth]) < faults.truncated_download {
        sim.count(provider, |s| s.faults_injected += 1);
        let half = bytes.slice(..len / 2);
        let stream = futures::stream::iter(vec![
            Ok::<Bytes, std::io::Error>(half),
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "simulated reset mid-download")),
        ]);
        return with_headers(Body::from_stream(stream), &headers);
    }
    // Served whole from here on (slowly or not).
    sim.served(provider, &task_id, &clip_id);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_container_has_its_magic_bytes_and_the_announced_length() {
        let sim = Sim::new(Default::default(), "http://127.0.0.1:1".into());
        for f in OutputFormat::ALL {
            let a = clip_bytes(&sim, "clip-a", f);
            assert_eq!(a.len(), clip_len(&sim, "clip-a", f), "{f}");
            assert_ne!(a, clip_bytes(&sim, "clip-b", f), "{f}: clips differ");
            match f {
                OutputFormat::Mp4 => assert_eq!(&a[4..12], b"ftypisom"),
                OutputFormat::Mov => assert_eq!(&a[4..12], b"ftypqt  "),
                OutputFormat::Webm => {
                    assert_eq!(&a[..4], [0x1A, 0x45, 0xDF, 0xA3]);
                    assert_eq!(&a[WEBM_SEGMENT_SIZE_AT - 4..WEBM_SEGMENT_SIZE_AT], [0x18, 0x53, 0x80, 0x67]);
                    let mut size = [0u8; 8];
                    size[1..].copy_from_slice(&a[WEBM_SEGMENT_SIZE_AT + 1..WEBM_SEGMENT_SIZE_AT + 8]);
                    assert_eq!(
                        u64::from_be_bytes(size) as usize,
                        a.len() - WEBM_SEGMENT_SIZE_AT - 8,
                        "segment spans to the end"
                    );
                }
            }
        }
    }
}
