//! The OpenTimelineIO subset shotlist writes: `Timeline.1` → `Stack.1` → one video
//! `Track.1` of `Clip.1` (with an `ExternalReference.1` to the file) and `Gap.1`
//! (with a `Marker.2` saying why). `Clip.1` rather than `Clip.2` because every OTIO
//! reader reads it (newer ones upgrade it). Our own fields sit under
//! `metadata.shotlist`. CI reads the file back with PyPI `opentimelineio`.

use serde_json::{Value, json};

use super::{ClipEvent, Event};

fn rational(value: f64, rate: f64) -> Value {
    json!({ "OTIO_SCHEMA": "RationalTime.1", "rate": rate, "value": value })
}

fn range(frames: u64, rate: f64) -> Value {
    json!({
        "OTIO_SCHEMA": "TimeRange.1",
        "start_time": rational(0.0, rate),
        "duration": rational(frames as f64, rate),
    })
}

/// The file's URL: absolute `file://`, which every editor resolves.
pub fn target_url(c: &ClipEvent) -> String {
    url::Url::from_file_path(&c.path).map(|u| u.to_string()).unwrap_or_else(|_| c.path.to_string_lossy().into_owned())
}

fn clip(c: &ClipEvent) -> Value {
    let r = &c.take.row;
    let (cost, cost_source) = match (r.cost_usd, r.estimated_cost_usd) {
        (Some(v), _) => (Some(v), "reported"),
        (None, Some(v)) => (Some(v), "estimate"),
        (None, None) => (None, "unknown"),
    };
    let available = range(c.media.frames, c.media.rate);
    json!({
        "OTIO_SCHEMA": "Clip.1",
        "name": c.name(),
        "source_range": range(c.media.frames, c.media.rate),
        "media_reference": {
            "OTIO_SCHEMA": "ExternalReference.1",
            "name": r.file,
            "target_url": target_url(c),
            "available_range": available,
            "metadata": {},
        },
        "metadata": { "shotlist": {
            "shot": r.shot_id,
            "variant": r.variant,
            "prompt": c.prompt,
            "seed": r.seed,
            "provider": r.provider,
            "model": r.model,
            "job_key": r.job_key,
            "cost_usd": cost,
            "cost_source": cost_source,
            "file": r.file,
            "sha256": r.sha256,
            "selected": c.selected,
            "fps_from": match c.media.source { super::probe::Source::File => "file", super::probe::Source::Catalog(_) => "catalog" },
        }},
        "effects": [],
        "markers": [],
        "enabled": true,
    })
}

fn gap(shot: &str, rate: f64, frames: u64, reason: &str) -> Value {
    json!({
        "OTIO_SCHEMA": "Gap.1",
        "name": shot,
        "source_range": range(frames, rate),
        "metadata": { "shotlist": { "shot": shot, "reason": reason } },
        "effects": [],
        "markers": [{
            "OTIO_SCHEMA": "Marker.2",
            "name": "no take",
            "color": "RED",
            "comment": reason,
            "marked_range": range(frames.min(1), rate),
            "metadata": {},
        }],
        "enabled": true,
    })
}

/// The timeline as OTIO JSON text.
pub fn timeline(name: &str, events: &[Event]) -> String {
    let children: Vec<Value> = events
        .iter()
        .map(|e| match e {
            Event::Clip(c) => clip(c),
            Event::Gap { shot, rate, frames, reason } => gap(shot, *rate, *frames, reason),
        })
        .collect();
    let doc = json!({
        "OTIO_SCHEMA": "Timeline.1",
        "name": name,
        "global_start_time": null,
        "metadata": { "shotlist": { "tool": format!("shotlist {}", env!("CARGO_PKG_VERSION")) } },
        "tracks": {
            "OTIO_SCHEMA": "Stack.1",
            "name": "tracks",
            "source_range": null,
            "metadata": {},
            "effects": [],
            "markers": [],
            "enabled": true,
            "children": [{
                "OTIO_SCHEMA": "Track.1",
                "name": "V1",
                "kind": "Video",
                "source_range": null,
                "metadata": {},
                "effects": [],
                "markers": [],
                "enabled": true,
                "children": children,
            }],
        },
    });
    let mut text = serde_json::to_string_pretty(&doc).expect("timeline serialises");
    text.push('\n');
    text
}
