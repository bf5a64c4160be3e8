//! The plan: a validated manifest turned into jobs (one remote task each) with stable
//! keys and a cost estimate. Runware renders a shot's results in one task; MiniMax
//! and Segmind make one video per task, so their shots fan out into a job per variant.

use sha2::{Digest, Sha256};

use crate::catalog::output::{self, OutputFormat};
use crate::catalog::{Mode, Model, Provider, Resolution};
use crate::manifest::{Manifest, Shot};

/// Bumped when the key recipe changes, so old journals never match new keys by accident.
const KEY_VERSION: u32 = 1;

/// Where a job's price comes from (the report's `cost_source` when the provider
/// reports none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceSource {
    /// The catalog's published price (`src/catalog.rs` names the page and date).
    List,
    /// The manifest's `prices:` list (a contract price wins over the catalog).
    Manifest,
}

impl PriceSource {
    pub fn name(self) -> &'static str {
        match self {
            PriceSource::List => "list",
            PriceSource::Manifest => "manifest",
        }
    }
}

/// One remote task.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// Hash of everything that shapes the job's output; resume matches on it.
    pub key: String,
    /// Hash of everything that shapes the shot's takes except which variants: jobs
    /// that share it are takes of one version of the shot (a new version is an edit).
    #[serde(skip)]
    pub render_key: String,
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
    /// The price of one clip, and where it comes from; `None` when none is known.
    pub unit_price_usd: Option<f64>,
    pub price_source: Option<PriceSource>,
    /// The prompt as sent (camera moves appended).
    pub prompt: Option<String>,
    #[serde(skip)]
    pub shot_index: usize,
}

impl Job {
    /// The most this job can bill: every result at the highest price known for it
    /// (the manifest's, else the highest the catalog publishes). `None` when no
    /// price is known: a budget cannot admit it.
    pub fn worst_case_usd(&self) -> Option<f64> {
        self.unit_price_usd.map(|p| round_cents(p * f64::from(self.number_results)))
    }
}

/// A job's identity inside a run: its place in [`Plan::jobs`]. Everything that
/// follows jobs within a run (the dispatcher's bookkeeping, its work sets, the poll
/// schedule, worker events) names them by it; the job's key is what goes out (the
/// journal, a shared store, the provider's idempotency key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(u32);

impl JobId {
    /// The id of the job at `index` in [`Plan::jobs`].
    pub fn new(index: usize) -> JobId {
        JobId(u32::try_from(index).expect("fewer than 4 billion jobs"))
    }

    /// The job's place in [`Plan::jobs`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl Plan {
    /// The job `id` names.
    pub fn job(&self, id: JobId) -> &Job {
        &self.jobs[id.index()]
    }

    /// Every job's id, in plan order.
    pub fn ids(&self) -> impl Iterator<Item = JobId> + use<> {
        (0..self.jobs.len()).map(JobId::new)
    }
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

/// A journaled job of a render key that holds or may still yield takes: its key and
/// the variants it renders.
pub type TakesOf = (String, Vec<u32>);

impl Plan {
    pub fn new(manifest: &Manifest) -> Plan {
        let mut jobs = Vec::with_capacity(manifest.shots.len());
        for (index, shot) in manifest.shots.iter().enumerate() {
            let price = unit_price(manifest, shot);
            // The key material is built once a shot: its jobs differ only in variants.
            let mut material = KeyMaterial::of(shot);
            let render = digest(&material);
            let mut key_of = |variants: &[u32]| digest(material.with_variants(variants));
            if shot.provider.batches_results() {
                let variants: Vec<u32> = (1..=shot.number_results).collect();
                let keys = (key_of(&variants), render);
                jobs.push(job(index, shot, keys, variants, shot.number_results, price));
            } else {
                for v in 1..=shot.number_results {
                    let keys = (key_of(&[v]), render.clone());
                    jobs.push(job(index, shot, keys, vec![v], 1, price));
                }
            }
        }
        let totals = Totals::of(manifest.shots.len(), &jobs);
        Plan { jobs, totals }
    }

    /// Keeps the takes already rendered (or under way) for a shot's current version:
    /// where a job that renders several results (Runware) is new only because the
    /// shot asks for more results than before, the earlier jobs stay in the plan with
    /// their keys and a new job renders just the missing variants. `existing` gives,
    /// for a render key, the journaled jobs of it that hold or may still yield takes
    /// (key and variants). Asking for fewer results keeps every earlier take.
    pub fn keep_takes(&mut self, manifest: &Manifest, existing: &dyn Fn(&str) -> Vec<TakesOf>) {
        let mut jobs = Vec::with_capacity(self.jobs.len());
        for job in std::mem::take(&mut self.jobs) {
            let earlier = if job.provider.batches_results() { existing(&job.render_key) } else { Vec::new() };
            if earlier.is_empty() || earlier.iter().any(|(k, _)| *k == job.key) {
                jobs.push(job);
                continue;
            }
            let shot = &manifest.shots[job.shot_index];
            let covered: Vec<u32> = earlier.iter().flat_map(|(_, v)| v.iter().copied()).collect();
            let missing: Vec<u32> = job.variants.iter().copied().filter(|v| !covered.contains(v)).collect();
            for (key, variants) in earlier {
                let n = variants.len() as u32;
                jobs.push(Job { key, variants, number_results: n, estimated_cost_usd: scaled(&job, n), ..job.clone() });
            }
            if !missing.is_empty() {
                let n = missing.len() as u32;
                let key = job_key(shot, &missing);
                jobs.push(Job {
                    key,
                    variants: missing,
                    number_results: n,
                    estimated_cost_usd: scaled(&job, n),
                    ..job
                });
            }
        }
        self.totals = Totals::of(self.totals.shots, &jobs);
        self.jobs = jobs;
    }
}

/// A job's estimate for `n` of its results.
fn scaled(job: &Job, n: u32) -> Option<f64> {
    job.estimated_cost_usd.map(|usd| round_cents(usd / f64::from(job.number_results.max(1)) * f64::from(n)))
}

impl Totals {
    fn of(shots: usize, jobs: &[Job]) -> Totals {
        let mut totals = Totals { shots, jobs: jobs.len(), ..Totals::default() };
        for j in jobs {
            totals.clips += j.number_results;
            match j.estimated_cost_usd {
                Some(usd) => totals.estimated_cost_usd += usd,
                None => totals.clips_without_price += j.number_results,
            }
        }
        totals.estimated_cost_usd = round_cents(totals.estimated_cost_usd);
        totals
    }
}

/// A clip's price: the manifest's `prices:` entry for it, else the catalog's list price.
fn unit_price(manifest: &Manifest, shot: &Shot) -> Option<(f64, PriceSource)> {
    let own = manifest.prices.iter().find(|p| {
        p.provider == shot.provider
            && p.model.id == shot.model.id
            && p.resolution.is_none_or(|r| r == shot.resolution)
            && p.duration.is_none_or(|d| d == shot.duration)
    });
    match own {
        Some(p) => Some((p.usd, PriceSource::Manifest)),
        // H3 bills reference images past the free ones on top of the clip.
        None => shot.model.price(shot.resolution, shot.duration).map(|usd| {
            let refs = crate::catalog::h3::reference_surcharge(shot.model, shot.references.images.len());
            (usd + refs, PriceSource::List)
        }),
    }
}

/// A job of `shot`, with its key and render key (see [`job_key`], [`render_key`]).
fn job(
    shot_index: usize,
    shot: &Shot,
    (key, render_key): (String, String),
    variants: Vec<u32>,
    number_results: u32,
    price: Option<(f64, PriceSource)>,
) -> Job {
    let (price, price_source) = (price.map(|p| p.0), price.map(|p| p.1));
    Job {
        key,
        render_key,
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
        unit_price_usd: price,
        price_source,
        prompt: shot.prompt.clone(),
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

/// The resolution as keys name it (see `catalog::Model::key_resolution`).
fn key_resolution(shot: &Shot) -> Resolution {
    shot.model.key_resolution.unwrap_or(shot.resolution)
}

/// The key: a SHA-256 over a canonical JSON of what shapes the output. The shot id
/// is part of it because it names the files; frames enter by content hash, so
/// touching a file without changing it keeps the key. No provider here takes a seed
/// for MiniMax models, so the seed is recorded as absent. The clip options enter
/// only when a shot sets them to something other than the default, so a manifest
/// that does not use them keeps the keys it had before they existed (and its journal
/// keeps resuming). The safety check is left out: it judges a clip, it does not shape it.
pub fn job_key(shot: &Shot, variants: &[u32]) -> String {
    digest(KeyMaterial::of(shot).with_variants(variants))
}

/// The key of what the shot renders, whichever variants: [`job_key`]'s material
/// without the variants.
pub fn render_key(shot: &Shot) -> String {
    digest(&KeyMaterial::of(shot))
}

fn digest(material: &KeyMaterial<'_>) -> String {
    // Written straight into the hash, the text is never held.
    let mut hasher = HashWriter(Sha256::new());
    serde_json::to_writer(&mut hasher, material).expect("key material serialises");
    hex::encode(&hasher.0.finalize()[..16])
}

/// Feeds what is written into the hash.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a job key hashes, serialised as the JSON object it always was: the fields
/// in the order of their names (a `serde_json::Value` map's order, which the keys of
/// existing journals were made with), optional ones left out when at their default.
/// A struct borrowing from the shot instead of a `Value` of copied strings: the
/// plan builds two of these a shot.
#[derive(serde::Serialize)]
struct KeyMaterial<'s> {
    duration: u32,
    #[serde(rename = "fastPretreatment", skip_serializing_if = "Option::is_none")]
    fast_pretreatment: Option<bool>,
    first: Option<String>,
    fps: u32,
    last: Option<String>,
    model: &'static str,
    #[serde(rename = "outputFormat", skip_serializing_if = "Option::is_none")]
    output_format: Option<OutputFormat>,
    #[serde(rename = "outputQuality", skip_serializing_if = "Option::is_none")]
    output_quality: Option<u8>,
    prompt: &'s Option<String>,
    #[serde(rename = "promptOptimizer")]
    prompt_optimizer: bool,
    provider: Provider,
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<crate::catalog::h3::Ratio>,
    #[serde(skip_serializing_if = "Option::is_none")]
    references: Option<ReferenceIds>,
    resolution: Resolution,
    seed: (),
    shot: &'s str,
    subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<TemplateIds<'s>>,
    v: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    variants: Option<Vec<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    watermark: Option<bool>,
}

/// `references` in key material, kinds in the order of their names.
#[derive(serde::Serialize)]
struct ReferenceIds {
    audio: Vec<String>,
    images: Vec<String>,
    videos: Vec<String>,
}

/// `template` in key material, in the order of the names.
#[derive(serde::Serialize)]
struct TemplateIds<'s> {
    host: crate::catalog::templates::Host,
    id: &'static str,
    media: Vec<String>,
    text: &'s [String],
}

impl<'s> KeyMaterial<'s> {
    fn of(shot: &'s Shot) -> KeyMaterial<'s> {
        let image = |i: &Option<crate::manifest::Image>| i.as_ref().map(|i| i.identity());
        let ids = |m: &[crate::manifest::Media]| m.iter().map(crate::manifest::Media::identity).collect::<Vec<_>>();
        let o = &shot.options;
        KeyMaterial {
            duration: shot.duration,
            fast_pretreatment: o.fast_pretreatment.then_some(true),
            first: image(&shot.first_frame),
            fps: shot.model.fps,
            last: image(&shot.last_frame),
            model: shot.model.id,
            output_format: (o.output_format != OutputFormat::Mp4).then_some(o.output_format),
            output_quality: (o.quality() != output::DEFAULT_QUALITY).then_some(o.quality()),
            prompt: &shot.prompt,
            prompt_optimizer: shot.prompt_optimizer,
            provider: shot.provider,
            ratio: shot.ratio,
            references: (!shot.references.is_empty()).then(|| ReferenceIds {
                audio: ids(&shot.references.audio),
                images: ids(&shot.references.images),
                videos: ids(&shot.references.videos),
            }),
            resolution: key_resolution(shot),
            seed: (),
            shot: &shot.id,
            subject: image(&shot.subject),
            template: shot.template.as_ref().map(|t| TemplateIds {
                host: t.template.host,
                id: t.template.id,
                media: t.media.iter().map(|i| i.identity()).collect(),
                text: &t.text,
            }),
            v: KEY_VERSION,
            variants: None,
            watermark: o.watermark.then_some(true),
        }
    }

    fn with_variants(&mut self, variants: &[u32]) -> &Self {
        self.variants = Some(variants.to_vec());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(yaml: &str) -> Plan {
        let loaded = crate::manifest::load_str(yaml.to_owned(), "m.yaml".into(), std::path::Path::new("."))
            .unwrap_or_else(|e| panic!("{}", e.render(false)));
        Plan::new(&loaded.manifest)
    }

    #[test]
    fn worst_case_is_every_result_at_the_highest_known_price() {
        // Runware 01 Director: $0.28 in the pages' example answers, $0.056/s on the pages.
        let p = plan(
            "version: 1\nshots:\n  - { id: a, provider: runware, model: director, prompt: a quiet lake at dawn, numberResults: 3 }\n",
        );
        assert_eq!(p.jobs[0].price_source, Some(PriceSource::List));
        assert_eq!(p.jobs[0].worst_case_usd(), Some(1.008));
        // The manifest's price wins over the catalog's.
        let p = plan(
            "version: 1\nprices:\n  - { provider: runware, model: minimax:2@1, usd: 0.25 }\nshots:\n  - { id: a, provider: runware, model: director, prompt: a quiet lake at dawn, numberResults: 2 }\n",
        );
        assert_eq!((p.jobs[0].price_source, p.jobs[0].worst_case_usd()), (Some(PriceSource::Manifest), Some(0.5)));
        // No price anywhere: no worst case (a budget cannot admit it), never 0.
        let p = plan(
            "version: 1\nshots:\n  - { id: a, provider: minimax, model: video-01, prompt: a quiet lake at dawn }\n",
        );
        assert_eq!((p.jobs[0].price_source, p.jobs[0].worst_case_usd()), (None, None));
    }

    #[test]
    fn runware_01_keys_are_the_ones_journals_already_hold() {
        // Computed by the release that named this clip 720p; a journal written then
        // must find its job (else the shot renders, and is paid for, again).
        let p = plan(
            "version: 1\nshots:\n  - { id: a, provider: runware, model: director, prompt: a quiet lake at dawn }\n",
        );
        assert_eq!(p.jobs[0].resolution, Resolution::P768);
        assert_eq!(p.jobs[0].key, "a4fb91083db3895cee2ce39a8ded9b33");
    }

    /// The recipe as it was written before `KeyMaterial`: a `serde_json::Value`
    /// (whose map sorts its keys). New keys must hash exactly what it hashed.
    fn value_material(shot: &Shot) -> serde_json::Value {
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
            "resolution": key_resolution(shot),
            "duration": shot.duration,
            "fps": shot.model.fps,
            "promptOptimizer": shot.prompt_optimizer,
            "seed": null,
        });
        // H3 fields enter only when set, so the keys of shots without them (and the
        // journals that hold them) stay as they were.
        if let Some(ratio) = shot.ratio {
            material["ratio"] = serde_json::json!(ratio);
        }
        if !shot.references.is_empty() {
            material["references"] = shot.references.identities();
        }
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
        material
    }

    #[test]
    fn key_material_hashes_what_the_value_recipe_hashed() {
        // Every kind of field a key takes: frames, references, a template, the clip
        // options, ratios, several results; each key must be the one journals hold.
        let dir = tempfile::tempdir().unwrap();
        let frames = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/frames");
        for f in ["ok-first.png", "ok-last.png"] {
            std::fs::copy(frames.join(f), dir.path().join(f)).unwrap();
        }
        std::fs::write(dir.path().join("move.mp4"), crate::manifest::references::samples::mp4(5)).unwrap();
        std::fs::write(dir.path().join("voice.wav"), crate::manifest::references::samples::wav(3)).unwrap();
        let yaml = r#"version: 1
shots:
  - { id: a, provider: runware, model: director, prompt: "a quiet lake at dawn [Pan left]", numberResults: 3, camera: [Push in] }
  - { id: b, provider: minimax, model: MiniMax-Hailuo-02, prompt: "a kite", promptOptimizer: true, fastPretreatment: true, watermark: true, numberResults: 2 }
  - { id: b2, provider: minimax, model: MiniMax-Hailuo-02, prompt: "a kite", frames: { first: ok-first.png, last: ok-last.png } }
  - { id: c, model: minimax:3@1, prompt: "a kite \"quoted\" ünïcode", outputFormat: webm, outputQuality: 80, frames: { first: https://example.com/a.png } }
  - { id: d, provider: segmind, model: hailuo-2.3, resolution: 1080p, prompt: "a kite over the sea" }
  - { id: e, provider: minimax, model: h3, ratio: "1:1", duration: 8, prompt: "The courier cycles over the bridge.", references: { images: [ok-first.png, ok-last.png], videos: [move.mp4], audio: [voice.wav] } }
  - { id: f, provider: runware, model: minimax:h3@0, ratio: "16:9", duration: 6, prompt: "The courier rides.", references: { images: [ok-first.png, https://example.com/b.png] } }
  - { id: g, template: Diving, media: [ok-first.png] }
  - { id: h, model: minimax:4@1, prompt: "a kite", outputFormat: mov, safety: { checkContent: true } }
"#;
        let loaded = crate::manifest::load_str(yaml.to_owned(), "m.yaml".into(), dir.path())
            .unwrap_or_else(|e| panic!("{}", e.render(false)));
        let old_digest = |v: &serde_json::Value| {
            let mut hasher = HashWriter(Sha256::new());
            serde_json::to_writer(&mut hasher, v).unwrap();
            hex::encode(&hasher.0.finalize()[..16])
        };
        assert_eq!(loaded.manifest.shots.len(), 9);
        for shot in &loaded.manifest.shots {
            let mut material = value_material(shot);
            assert_eq!(render_key(shot), old_digest(&material), "render key of {}", shot.id);
            for variants in [vec![1], vec![1, 2, 3], vec![2]] {
                material["variants"] = serde_json::json!(variants);
                assert_eq!(job_key(shot, &variants), old_digest(&material), "job key of {}", shot.id);
            }
            // The text hashed is the same text, not only the same hash.
            let mut m = KeyMaterial::of(shot);
            assert_eq!(serde_json::to_string(m.with_variants(&[2])).unwrap(), material.to_string());
        }
        let plan = Plan::new(&loaded.manifest);
        for job in &plan.jobs {
            assert_eq!(job.key, job_key(&loaded.manifest.shots[job.shot_index], &job.variants));
        }
    }
}
