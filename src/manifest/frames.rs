//! Frame and subject images: a local path (relative to the manifest) or an https URL.
//! Local files are checked as the providers check them (format by content, size,
//! short side, aspect ratio) from the header alone, and hashed for the job keys.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// MiniMax: "< 20MB".
pub const MAX_BYTES: u64 = 20 * 1024 * 1024;
/// MiniMax: "short side > 300px".
pub const MIN_SHORT_SIDE: u64 = 300;

/// An image a shot refers to, ready to be sent and hashed into a job key.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Image {
    /// A remote image; its content is the provider's business, the URL is the identity.
    Url {
        url: String,
    },
    Local {
        path: PathBuf,
        format: &'static str,
        width: u64,
        height: u64,
        bytes: u64,
        sha256: String,
    },
}

impl Image {
    /// What identifies the image's content in a job key.
    pub fn identity(&self) -> String {
        match self {
            Image::Url { url } => format!("url:{url}"),
            Image::Local { sha256, .. } => format!("sha256:{sha256}"),
        }
    }
}

/// Why an image was refused; the message is complete on its own.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageProblem {
    pub message: String,
    pub help: Option<String>,
}

fn problem(message: String, help: Option<&str>) -> ImageProblem {
    ImageProblem { message, help: help.map(str::to_owned) }
}

/// Checks images once per file, however many shots use them.
#[derive(Default)]
pub struct ImageChecker {
    cache: HashMap<PathBuf, Result<Image, ImageProblem>>,
}

impl ImageChecker {
    /// Resolves `reference` (as written in the manifest) against the manifest's folder.
    pub fn check(&mut self, reference: &str, manifest_dir: &Path) -> Result<Image, ImageProblem> {
        let reference = reference.trim();
        if let Some((scheme, _)) = reference.split_once("://") {
            return match scheme.to_ascii_lowercase().as_str() {
                "https" if reference.len() > "https://".len() => Ok(Image::Url { url: reference.to_owned() }),
                "https" => Err(problem("the URL has no host".into(), None)),
                "http" => Err(problem(
                    format!("`{reference}` is a plain http URL"),
                    Some("providers fetch frames over https: use an https URL or a local file"),
                )),
                other => Err(problem(
                    format!("`{other}://` URLs are not supported"),
                    Some("use a local path (relative to the manifest) or an https URL"),
                )),
            };
        }
        if reference.is_empty() {
            return Err(problem("the image path is empty".into(), None));
        }
        let path = manifest_dir.join(reference);
        self.cache.entry(path.clone()).or_insert_with(|| probe(&path, reference)).clone()
    }
}

fn probe(path: &Path, shown: &str) -> Result<Image, ImageProblem> {
    let meta = std::fs::metadata(path).map_err(|e| {
        problem(
            format!("cannot read `{shown}`: {}", io_reason(&e)),
            Some("frame paths are relative to the manifest's folder"),
        )
    })?;
    if !meta.is_file() {
        return Err(problem(format!("`{shown}` is not a file"), None));
    }
    if meta.len() > MAX_BYTES {
        return Err(problem(
            format!("`{shown}` is {:.1} MB; providers accept at most 20 MB", meta.len() as f64 / 1_048_576.0),
            Some("re-export the image smaller (JPG at a lower quality)"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| problem(format!("cannot read `{shown}`: {}", io_reason(&e)), None))?;
    let format = match imagesize::image_type(&bytes) {
        Ok(imagesize::ImageType::Jpeg) => "jpeg",
        Ok(imagesize::ImageType::Png) => "png",
        Ok(imagesize::ImageType::Webp) => "webp",
        Ok(other) => {
            return Err(problem(
                format!(
                    "`{shown}` is a {} image; providers accept JPG, PNG or WebP",
                    format!("{other:?}").to_uppercase()
                ),
                Some("convert it to PNG or JPG"),
            ));
        }
        Err(_) => {
            return Err(problem(
                format!("`{shown}` is not a JPG, PNG or WebP image (its content is not an image header)"),
                None,
            ));
        }
    };
    let size = imagesize::blob_size(&bytes)
        .map_err(|_| problem(format!("`{shown}` looks like {format} but its header is damaged"), None))?;
    let (w, h) = (size.width as u64, size.height as u64);
    if w.min(h) <= MIN_SHORT_SIDE {
        return Err(problem(
            format!("`{shown}` is {w}×{h}; its short side must be more than {MIN_SHORT_SIDE} px"),
            Some("use a larger frame (e.g. 1280×720)"),
        ));
    }
    // 2:5 ≤ w:h ≤ 5:2, in integers.
    if w * 5 < h * 2 || w * 2 > h * 5 {
        return Err(problem(
            format!("`{shown}` is {w}×{h}; its aspect ratio must lie between 2:5 and 5:2"),
            Some("crop the frame closer to the video's 16:9"),
        ));
    }
    Ok(Image::Local {
        path: path.to_path_buf(),
        format,
        width: w,
        height: h,
        bytes: meta.len(),
        sha256: hex::encode(Sha256::digest(&bytes)),
    })
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
