//! What a submit carries, built from a planned job and its shot: the wire-neutral
//! form each protocol module turns into its own body.

use base64::Engine;
use uuid::Uuid;

use crate::catalog::output::ClipOptions;
use crate::catalog::{Mode, Resolution};
use crate::manifest::{Image, Shot};
use crate::plan::Job;

/// An image as sent: a URL, or a local file inlined as a data URI (as the official
/// clients do).
#[derive(Clone, Debug, PartialEq)]
pub enum ImageInput {
    Url(String),
    DataUri(String),
}

impl ImageInput {
    /// The string a protocol puts in its image field.
    pub fn as_str(&self) -> &str {
        match self {
            ImageInput::Url(s) | ImageInput::DataUri(s) => s,
        }
    }

    /// Reads a local image into a data URI; a URL stays a URL.
    pub fn from_image(image: &Image) -> std::io::Result<ImageInput> {
        match image {
            Image::Url { url } => Ok(ImageInput::Url(url.clone())),
            Image::Local { path, format, sha256, .. } => {
                let bytes = std::fs::read(path)?;
                // The job's key holds the hash of the frame as planned: what is sent
                // must be that frame, or the take would be filed under the wrong key.
                let now = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
                if now != *sha256 {
                    return Err(std::io::Error::other(format!(
                        "{} changed since the plan (its content no longer matches the job's key); run again to plan it anew",
                        path.display()
                    )));
                }
                let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
                Ok(ImageInput::DataUri(format!("data:image/{format};base64,{b64}")))
            }
        }
    }
}

/// A MiniMax video template submit: the template's id and its filled slots.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateRequest {
    pub template_id: String,
    pub media: Vec<ImageInput>,
    pub text: Vec<String>,
}

/// One submit, wire-neutral.
#[derive(Clone, Debug, PartialEq)]
pub struct SubmitRequest {
    /// Runware's idempotency key (derived from the run id and the job key);
    /// the other protocols have none and ignore it.
    pub task_uuid: Uuid,
    pub model_id: String,
    pub mode: Mode,
    pub prompt: Option<String>,
    pub resolution: Resolution,
    pub duration: u32,
    pub fps: u32,
    pub number_results: u32,
    pub prompt_optimizer: bool,
    pub first_frame: Option<ImageInput>,
    pub last_frame: Option<ImageInput>,
    pub subject: Option<ImageInput>,
    /// H3: the ratio to send (`None`: not sent).
    pub ratio: Option<crate::catalog::Ratio>,
    /// H3: reference media, as sent.
    pub references: ReferenceInputs,
    /// Container, quality, safety check, MiniMax pretreatment and watermark.
    pub options: ClipOptions,
    /// Runware `ttl`: how long the result URLs must stay valid.
    pub ttl_secs: Option<u32>,
    /// Set for a MiniMax video template job (`mode` is then `Template`).
    pub template: Option<TemplateRequest>,
}

/// H3 references as sent: URLs, or local files inlined as data URIs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReferenceInputs {
    pub images: Vec<ImageInput>,
    pub videos: Vec<ImageInput>,
    pub audio: Vec<ImageInput>,
}

impl ReferenceInputs {
    fn read(refs: &crate::manifest::References) -> std::io::Result<ReferenceInputs> {
        let all = |list: &[crate::manifest::Media]| list.iter().map(media_input).collect::<std::io::Result<Vec<_>>>();
        Ok(ReferenceInputs { images: all(&refs.images)?, videos: all(&refs.videos)?, audio: all(&refs.audio)? })
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty() && self.videos.is_empty() && self.audio.is_empty()
    }
}

fn media_input(m: &crate::manifest::Media) -> std::io::Result<ImageInput> {
    match m {
        crate::manifest::Media::Url { url } => Ok(ImageInput::Url(url.clone())),
        crate::manifest::Media::Local { path, mime, .. } => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(path)?);
            Ok(ImageInput::DataUri(format!("data:{mime};base64,{b64}")))
        }
    }
}

impl SubmitRequest {
    /// The submit for `job` (a job of `shot`), with local images read from disk.
    pub fn for_job(job: &Job, shot: &Shot, task_uuid: Uuid) -> std::io::Result<SubmitRequest> {
        let image = |i: &Option<Image>| i.as_ref().map(ImageInput::from_image).transpose();
        Ok(SubmitRequest {
            task_uuid,
            model_id: job.model.id.to_owned(),
            mode: job.mode,
            prompt: shot.prompt.clone(),
            resolution: job.resolution,
            duration: job.duration,
            fps: job.fps,
            number_results: job.number_results,
            prompt_optimizer: shot.prompt_optimizer,
            first_frame: image(&shot.first_frame)?,
            last_frame: image(&shot.last_frame)?,
            subject: image(&shot.subject)?,
            ratio: shot.ratio,
            references: ReferenceInputs::read(&shot.references)?,
            options: shot.options,
            ttl_secs: job.ttl_secs,
            template: match &shot.template {
                Some(t) => Some(TemplateRequest {
                    template_id: t.template.id.to_owned(),
                    media: t.media.iter().map(ImageInput::from_image).collect::<std::io::Result<_>>()?,
                    text: t.text.clone(),
                }),
                None => None,
            },
        })
    }

    /// The image the mode needs but the request lacks, if any: a client refuses to
    /// send such a request rather than let the provider guess (validation should
    /// have caught it already).
    pub fn missing_image(&self) -> Option<&'static str> {
        match self.mode {
            Mode::FirstFrame | Mode::FirstLast if self.first_frame.is_none() => Some("first frame"),
            Mode::FirstLast if self.last_frame.is_none() => Some("last frame"),
            Mode::Subject if self.subject.is_none() => Some("subject reference"),
            Mode::Reference if self.references.is_empty() => Some("reference"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_edited_after_the_plan_is_refused_not_sent_under_the_old_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.png");
        std::fs::write(&path, b"planned bytes").unwrap();
        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"planned bytes"));
        let image = Image::Local { path: path.clone(), format: "png", width: 400, height: 400, bytes: 13, sha256 };
        assert!(matches!(ImageInput::from_image(&image), Ok(ImageInput::DataUri(_))));
        std::fs::write(&path, b"edited bytes!").unwrap();
        let e = ImageInput::from_image(&image).unwrap_err().to_string();
        assert!(e.contains("changed since the plan") && e.contains("f.png"), "{e}");
    }
}
