//! The plan: a validated manifest turned into jobs (one remote task each) with stable
//! keys and a cost estimate. Runware renders a shot's results in one task; MiniMax
//! and Segmind make one video per task, so their shots fan out into a job per variant.

use sha2::{Digest, Sha256};

use crate::catalog::output::{self, OutputFormat};
use crate::catalog::{Mode, Model, Provider, Resolution};
use crate::manifest::{Manifest, Shot};

/// Bumped when the key recipe changes, so old journals never match new keys by accident.
const KEY_VERSION: u32 = 1;

/// One remote task.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// Hash of everything that shapes the job's output; resume matches on it.
    pub key: String,
    #[serde(rename = "shot")]
    pub shot_id: String,
    /// The clip numbers (from 1) this job produces.
    pub variants: Vec<u32>,
    pub provider: Provider,
    #[serde(serialize_with = "model_id")]
    pub model: &'static Model,
    pub mode: Mode,
    pub resolution: Resolution,
    pub duration: u32,
    pub fps: u32,
    /// Clips this job returns (Runware `numberResults`; 1 elsewhere).
    pub number_results: u32,
    /// Estimated cost of the whole job; `None` when the model has no published price.
    pub estimated_cost_usd: Option<f64>,
    /// The container the clips come in; their files are named after it.
    pub output_format: OutputFormat,
    /// Lifetime asked for the result URLs (Runware `ttl`); `None` where the provider takes none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u32>,
    /// A MiniMax video template's id (the job's `model` is then the template stand-in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<&'static str>,
    #[serde(skip)]
    pub shot_index: usize,
}

fn model_id<S: serde::Serializer>(m: &&'static Model, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.id)
}

/// Sums shown under the table and in `--json`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub shots: usize,
    pub jobs: usize,
    pub clips: u32,
    /// Sum of the known estimates.
    pub estimated_cost_usd: f64,
    /// Clips whose model has no published price (not counted in the estimate).
    pub clips_without_price: u32,
}

/// Every job of a manifest, in manifest order.
#[derive(Debug)]
pub struct Plan {
    pub jobs: Vec<Job>,
    pub totals: Totals,
}

impl Plan {
    pub fn new(manifest: &Manifest) -> Plan {
        let mut jobs = Vec::with_capacity(manifest.shots.len());
        for (index, shot) in manifest.shots.iter().enumerate() {
            if shot.provider.batches_results() {
                let variants: Vec<u32> = (1..=shot.number_results).collect();
                jobs.push(job(index, shot, variants, shot.number_results));
            } else {
                jobs.extend((1..=shot.number_results).map(|v| job(index, shot, vec![v], 1)));
            }
        }
        let mut totals = Totals { shots: manifest.shots.len(), jobs: jobs.len(), ..Totals::default() };
        for j in &jobs {
            totals.clips += j.number_results;
            match j.estimated_cost_usd {
                Some(usd) => totals.estimated_cost_usd += usd,
                None => totals.clips_without_price += j.number_results,
            }
        }
        totals.estimated_cost_usd = round_cents(totals.estimated_cost_usd);
        Plan { jobs, totals }
    }
}

fn job(shot_index: usize, shot: &Shot, variants: Vec<u32>, number_results: u32) -> Job {
    let price = shot.model.price(shot.resolution, shot.duration);
    Job {
        key: job_key(shot, &variants),
        shot_id: shot.id.clone(),
        variants,
        provider: shot.provider,
        model: shot.model,
        mode: shot.mode,
        resolution: shot.resolution,
        duration: shot.duration,
        fps: shot.model.fps,
        number_results,
        estimated_cost_usd: price.map(|p| round_cents(p * f64::from(number_results))),
        output_format: shot.options.output_format,
        ttl_secs: (shot.provider == Provider::Runware).then_some(output::RUNWARE_TTL_SECS),
        template: shot.template.as_ref().map(|t| t.template.id),
        shot_index,
    }
}

impl Job {
    /// The extension of the job's clip files (`mp4`, `webm`, `mov`).
    pub fn extension(&self) -> &'static str {
        self.output_format.name()
    }

    /// What the report and journal name the model: its id, or `template:<id>`.
    pub fn model_label(&self) -> String {
        match self.template {
            Some(id) => format!("template:{id}"),
            None => self.model.id.to_owned(),
        }
    }
}

fn round_cents(usd: f64) -> f64 {
    (usd * 10_000.0).round() / 10_000.0
}

/// The key: a SHA-256 over a canonical JSON of what shapes the output. The shot id
/// is part of it because it names the files; frames enter by content hash, so
/// touching a file without changing it keeps the key. No provider here takes a seed
/// for MiniMax models, so the seed is recorded as absent. The clip options enter
/// only when a shot sets them to something other than the default, so a manifest
/// that does not use them keeps the keys it had before they existed (and its journal
/// keeps resuming). The safety check is left out: it judges a clip, it does not shape it.
pub fn job_key(shot: &Shot, variants: &[u32]) -> String {
    let image = |i: &Option<crate::manifest::Image>| i.as_ref().map(|i| i.identity());
    let mut material = serde_json::json!({
        "v": KEY_VERSION,
        "shot": shot.id,
        "provider": shot.provider,
        "model": shot.model.id,
        "prompt": shot.prompt,
        "first": image(&shot.first_frame),
        "last": image(&shot.last_frame),
        "subject": image(&shot.subject),
        "resolution": shot.resolution,
        "duration": shot.duration,
        "fps": shot.model.fps,
        "promptOptimizer": shot.prompt_optimizer,
        "variants": variants,
        "seed": null,
    });
    let o = &shot.options;
    if o.output_format != OutputFormat::Mp4 {
        material["outputFormat"] = serde_json::json!(o.output_format);
    }
    if o.quality() != output::DEFAULT_QUALITY {
        material["outputQuality"] = serde_json::json!(o.quality());
    }
    if o.fast_pretreatment {
        material["fastPretreatment"] = serde_json::json!(true);
    }
    if o.watermark {
        material["watermark"] = serde_json::json!(true);
    }
    if let Some(t) = &shot.template {
        let media: Vec<String> = t.media.iter().map(|i| i.identity()).collect();
        material["template"] =
            serde_json::json!({"id": t.template.id, "host": t.template.host, "media": media, "text": t.text});
    }
    // serde_json's map keeps keys sorted, so the text (and the hash) is canonical.
    let digest = Sha256::digest(material.to_string().as_bytes());
    hex::encode(&digest[..16])
}
