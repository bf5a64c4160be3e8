//! H3 reference media (`references: { images, videos, audio }`): a local path
//! (relative to the manifest) or an https URL. Local files are checked as MiniMax's
//! v2 API checks them (format by content, size, image sides and aspect, clip
//! length) from their headers, and hashed for the job keys. A URL's content is
//! the provider's business; its text is its identity.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::catalog::h3;

/// The three kinds of reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
}

impl MediaKind {
    /// The manifest's key under `references`.
    pub fn key(self) -> &'static str {
        match self {
            MediaKind::Image => "images",
            MediaKind::Video => "videos",
            MediaKind::Audio => "audio",
        }
    }

    fn max_bytes(self) -> u64 {
        match self {
            MediaKind::Image => h3::IMAGE_MAX_BYTES,
            MediaKind::Video => h3::VIDEO_MAX_BYTES,
            MediaKind::Audio => h3::AUDIO_MAX_BYTES,
        }
    }

    fn formats(self) -> &'static str {
        match self {
            MediaKind::Image => "JPG, PNG, WEBP or HEIC",
            MediaKind::Video => "MP4 or MOV",
            MediaKind::Audio => "WAV or MP3",
        }
    }
}

/// One reference as sent and hashed.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Media {
    Url {
        url: String,
    },
    Local {
        path: PathBuf,
        /// The MIME type a data URI of it carries (`image/png`, `video/mp4`, ...).
        mime: &'static str,
        bytes: u64,
        sha256: String,
        /// Length of a video or audio clip, when its header says.
        secs: Option<f64>,
    },
}

impl Media {
    /// What identifies the content in a job key.
    pub fn identity(&self) -> String {
        match self {
            Media::Url { url } => format!("url:{url}"),
            Media::Local { sha256, .. } => format!("sha256:{sha256}"),
        }
    }

    pub fn secs(&self) -> Option<f64> {
        match self {
            Media::Local { secs, .. } => *secs,
            Media::Url { .. } => None,
        }
    }
}

/// A shot's references, by kind.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct References {
    pub images: Vec<Media>,
    pub videos: Vec<Media>,
    pub audio: Vec<Media>,
}

impl References {
    pub fn is_empty(&self) -> bool {
        self.images.is_empty() && self.videos.is_empty() && self.audio.is_empty()
    }

    pub fn count(&self) -> usize {
        self.images.len() + self.videos.len() + self.audio.len()
    }

    /// The identities for a job key, in the order written.
    pub fn identities(&self) -> serde_json::Value {
        let ids = |m: &[Media]| m.iter().map(Media::identity).collect::<Vec<_>>();
        serde_json::json!({"images": ids(&self.images), "videos": ids(&self.videos), "audio": ids(&self.audio)})
    }
}

/// Checks each local file once, however many shots use it.
#[derive(Default)]
pub struct MediaChecker {
    cache: HashMap<(PathBuf, MediaKind), Result<Media, String>>,
}

impl MediaChecker {
    /// Resolves `reference` (as written) against the manifest's folder; the error is
    /// a complete message.
    pub fn check(&mut self, kind: MediaKind, reference: &str, manifest_dir: &Path) -> Result<Media, String> {
        let reference = reference.trim();
        if let Some((scheme, _)) = reference.split_once("://") {
            return match scheme.to_ascii_lowercase().as_str() {
                "https" if reference.len() > "https://".len() => Ok(Media::Url { url: reference.to_owned() }),
                "https" => Err("the URL has no host".into()),
                "http" => Err(format!("`{reference}` is a plain http URL; use an https URL or a local file")),
                other => Err(format!("`{other}://` URLs are not supported; use a local path or an https URL")),
            };
        }
        if reference.is_empty() {
            return Err("the path is empty".into());
        }
        let path = manifest_dir.join(reference);
        self.cache.entry((path.clone(), kind)).or_insert_with(|| probe(kind, &path, reference)).clone()
    }
}

fn probe(kind: MediaKind, path: &Path, shown: &str) -> Result<Media, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    if !meta.is_file() {
        return Err(format!("`{shown}` is not a file"));
    }
    let max = kind.max_bytes();
    if meta.len() > max {
        return Err(format!(
            "`{shown}` is {:.1} MB; MiniMax takes reference {} of at most {} MB",
            meta.len() as f64 / 1_048_576.0,
            kind.key(),
            max / 1_048_576
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    let not_format = || format!("`{shown}` is not a {} file (by its content)", kind.formats());
    let (mime, secs) = match kind {
        MediaKind::Image => (image(&bytes, shown)?, None),
        MediaKind::Video => {
            let mime = video_mime(&bytes).ok_or_else(not_format)?;
            (mime, mp4_secs(&bytes))
        }
        MediaKind::Audio => {
            if is_wav(&bytes) {
                ("audio/wav", wav_secs(&bytes))
            } else if is_mp3(&bytes) {
                // MP3 length needs a frame scan; the provider checks it.
                ("audio/mpeg", None)
            } else {
                return Err(not_format());
            }
        }
    };
    let range = if kind == MediaKind::Video { Some(h3::VIDEO_SECS) } else { None };
    let range = range.or((kind == MediaKind::Audio).then_some(h3::AUDIO_SECS));
    if let (Some(range), Some(s)) = (range, secs)
        && !range.contains(&s)
    {
        return Err(format!(
            "`{shown}` is {s:.1} s long; a reference {} must be {} to {} s",
            if kind == MediaKind::Video { "video" } else { "audio clip" },
            range.start(),
            range.end()
        ));
    }
    Ok(Media::Local {
        path: path.to_path_buf(),
        mime,
        bytes: meta.len(),
        sha256: hex::encode(Sha256::digest(&bytes)),
        secs,
    })
}

fn image(bytes: &[u8], shown: &str) -> Result<&'static str, String> {
    let mime = match imagesize::image_type(bytes) {
        Ok(imagesize::ImageType::Jpeg) => "image/jpeg",
        Ok(imagesize::ImageType::Png) => "image/png",
        Ok(imagesize::ImageType::Webp) => "image/webp",
        Ok(imagesize::ImageType::Heif(_)) => "image/heic",
        _ => return Err(format!("`{shown}` is not a JPG, PNG, WEBP or HEIC image (by its content)")),
    };
    let size = imagesize::blob_size(bytes).map_err(|_| format!("`{shown}` has a damaged image header"))?;
    let (w, h) = (size.width as u64, size.height as u64);
    if !h3::IMAGE_SIDES.contains(&w) || !h3::IMAGE_SIDES.contains(&h) {
        return Err(format!(
            "`{shown}` is {w}×{h}; each side of a reference image must be {} to {} px",
            h3::IMAGE_SIDES.start(),
            h3::IMAGE_SIDES.end()
        ));
    }
    let tenths = h3::IMAGE_ASPECT_TENTHS;
    if w * 10 < h * tenths.start() || w * 10 > h * tenths.end() {
        return Err(format!("`{shown}` is {w}×{h}; its aspect ratio (width / height) must be 0.4 to 2.5"));
    }
    Ok(mime)
}

/// `ftyp` at offset 4: an ISO media file; brand `qt  ` is QuickTime.
fn video_mime(b: &[u8]) -> Option<&'static str> {
    if b.len() < 12 || &b[4..8] != b"ftyp" {
        return None;
    }
    Some(if &b[8..12] == b"qt  " { "video/quicktime" } else { "video/mp4" })
}

/// The movie length from `moov/mvhd`, if the header is where it should be.
fn mp4_secs(b: &[u8]) -> Option<f64> {
    let moov = find_box(b, b"moov")?;
    let mvhd = find_box(moov, b"mvhd")?;
    let be32 = |at: usize| Some(u32::from_be_bytes(mvhd.get(at..at + 4)?.try_into().ok()?) as u64);
    let (timescale, duration) = match *mvhd.first()? {
        0 => (be32(12)?, be32(16)?),
        1 => (be32(20)?, u64::from_be_bytes(mvhd.get(24..32)?.try_into().ok()?)),
        _ => return None,
    };
    (timescale > 0).then(|| duration as f64 / timescale as f64)
}

/// The body of the first box named `name` in a sequence of boxes.
fn find_box<'a>(mut b: &'a [u8], name: &[u8; 4]) -> Option<&'a [u8]> {
    while b.len() >= 8 {
        let size = u32::from_be_bytes(b[0..4].try_into().ok()?) as u64;
        let (header, size) = match size {
            0 => (8, b.len() as u64),
            1 => (16, u64::from_be_bytes(b.get(8..16)?.try_into().ok()?)),
            n => (8, n),
        };
        if size < header as u64 || size > b.len() as u64 {
            return None;
        }
        if &b[4..8] == name {
            return Some(&b[header..size as usize]);
        }
        b = &b[size as usize..];
    }
    None
}

fn is_wav(b: &[u8]) -> bool {
    b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WAVE"
}

fn is_mp3(b: &[u8]) -> bool {
    b.starts_with(b"ID3") || (b.len() >= 2 && b[0] == 0xFF && b[1] & 0xE0 == 0xE0)
}

/// `data` bytes ÷ the `fmt ` byte rate.
fn wav_secs(b: &[u8]) -> Option<f64> {
    let mut rest = b.get(12..)?;
    let mut byte_rate = None;
    while rest.len() >= 8 {
        let size = u32::from_le_bytes(rest[4..8].try_into().ok()?) as usize;
        let body = rest.get(8..8 + size.min(rest.len() - 8))?;
        match &rest[0..4] {
            b"fmt " => byte_rate = Some(u32::from_le_bytes(body.get(8..12)?.try_into().ok()?)),
            b"data" => return byte_rate.filter(|r| *r > 0).map(|r| size as f64 / f64::from(r)),
            _ => {}
        }
        rest = rest.get(8 + size + (size & 1)..).unwrap_or_default();
    }
    None
}

/// Test and example media: a WAV of `secs` seconds of silence (8 kHz mono 8-bit),
/// and an MP4 header (`ftyp` + `moov/mvhd`) saying `secs` seconds.
pub mod samples {
    pub fn wav(secs: u32) -> Vec<u8> {
        let rate = 8000u32;
        let data = rate * secs;
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF");
        v.extend_from_slice(&(36 + data).to_le_bytes());
        v.extend_from_slice(b"WAVEfmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes()); // PCM
        v.extend_from_slice(&1u16.to_le_bytes()); // mono
        v.extend_from_slice(&rate.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes()); // byte rate
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&8u16.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&data.to_le_bytes());
        v.resize(v.len() + data as usize, 128);
        v
    }

    pub fn mp4(secs: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&20u32.to_be_bytes());
        v.extend_from_slice(b"ftypisom");
        v.extend_from_slice(&512u32.to_be_bytes());
        v.extend_from_slice(b"isom");
        let mut mvhd = vec![0u8; 100];
        mvhd[12..16].copy_from_slice(&1000u32.to_be_bytes());
        mvhd[16..20].copy_from_slice(&(secs * 1000).to_be_bytes());
        let mvhd_box = [&(108u32.to_be_bytes())[..], b"mvhd", &mvhd].concat();
        v.extend_from_slice(&((8 + mvhd_box.len()) as u32).to_be_bytes());
        v.extend_from_slice(b"moov");
        v.extend_from_slice(&mvhd_box);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_read_from_mp4_and_wav_headers() {
        assert_eq!(mp4_secs(&samples::mp4(7)), Some(7.0));
        assert_eq!(video_mime(&samples::mp4(7)), Some("video/mp4"));
        assert_eq!(wav_secs(&samples::wav(3)), Some(3.0));
        assert!(is_wav(&samples::wav(3)));
        assert_eq!(mp4_secs(b"not a movie"), None);
    }

    #[test]
    fn local_files_are_checked_against_the_v2_limits() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("long.mp4"), samples::mp4(16)).unwrap();
        std::fs::write(dir.path().join("ok.mp4"), samples::mp4(5)).unwrap();
        std::fs::write(dir.path().join("short.wav"), samples::wav(1)).unwrap();
        std::fs::write(dir.path().join("text.wav"), b"hello").unwrap();
        let mut c = MediaChecker::default();
        assert!(c.check(MediaKind::Video, "long.mp4", dir.path()).unwrap_err().contains("16.0 s"));
        assert!(matches!(c.check(MediaKind::Video, "ok.mp4", dir.path()), Ok(Media::Local { secs: Some(5.0), .. })));
        assert!(c.check(MediaKind::Audio, "short.wav", dir.path()).unwrap_err().contains("2 to 15 s"));
        assert!(c.check(MediaKind::Audio, "text.wav", dir.path()).unwrap_err().contains("WAV or MP3"));
        assert!(c.check(MediaKind::Image, "http://x/y.png", dir.path()).is_err());
        assert!(matches!(c.check(MediaKind::Image, "https://x/y.png", dir.path()), Ok(Media::Url { .. })));
    }
}
