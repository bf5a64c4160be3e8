//! Clip downloads: streamed to a temporary file in the target folder while
//! hashing, length checked, fsynced, then renamed, so a final name only ever holds
//! a complete file. Nothing is buffered whole in memory.

use std::path::Path;

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// The largest clip accepted (a 10 s 1080p clip is tens of MB).
pub const MAX_CLIP_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// A complete file.
#[derive(Clone, Debug, PartialEq)]
pub struct Fetched {
    pub bytes: u64,
    pub sha256: String,
}

/// Why a download did not complete.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// The URL no longer works (403, 404, 410): refresh it where the protocol can.
    #[error("the download URL has expired or is gone (HTTP {0})")]
    Expired(u16),
    /// Worth another try: a dropped connection, a short body, a 5xx.
    #[error("{0}")]
    Transient(String),
    /// Never worth another try: not an http(s) URL, too large.
    #[error("{0}")]
    Refused(String),
    /// The out folder cannot be written (full, read-only): the run must stop.
    #[error("{0}")]
    Disk(String),
}

/// A temporary file in `dir` whose mode follows the umask like any file the user
/// creates (tempfile's default is 0600: others on a shared render box could not
/// read the clips or the report).
pub fn temp_in(dir: &Path, prefix: &str) -> std::io::Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix).suffix(".part");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    b.tempfile_in(dir)
}

/// Downloads `url` into `dest` (its folder must exist).
pub async fn fetch(http: &reqwest::Client, url: &str, dest: &Path) -> Result<Fetched, FetchError> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(FetchError::Refused("the provider gave a video URL that is not http(s); refused".into()));
    }
    let response = http.get(url).send().await.map_err(|e| FetchError::Transient(format!("download failed: {e}")))?;
    let status = response.status().as_u16();
    match status {
        200..=299 => {}
        403 | 404 | 410 => return Err(FetchError::Expired(status)),
        408 | 429 | 500..=599 => return Err(FetchError::Transient(format!("download answered HTTP {status}"))),
        _ => return Err(FetchError::Refused(format!("download answered HTTP {status}"))),
    }
    let expected = response.content_length();
    if expected.is_some_and(|n| n > MAX_CLIP_BYTES) {
        return Err(FetchError::Refused(format!(
            "the clip is {} bytes, over the {MAX_CLIP_BYTES} limit",
            expected.unwrap_or(0)
        )));
    }
    let dir = dest.parent().ok_or_else(|| FetchError::Disk("no target folder".into()))?;
    let disk = |e: std::io::Error| FetchError::Disk(format!("cannot write under {}: {e}", dir.display()));
    let tmp = temp_in(dir, ".").map_err(disk)?;
    let mut file = tokio::fs::File::from_std(tmp.reopen().map_err(disk)?);
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| FetchError::Transient(format!("download cut off after {written} bytes: {e}")))?;
        written += chunk.len() as u64;
        if written > MAX_CLIP_BYTES {
            return Err(FetchError::Refused(format!("the clip is over the {MAX_CLIP_BYTES}-byte limit")));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(disk)?;
    }
    if let Some(n) = expected
        && n != written
    {
        return Err(FetchError::Transient(format!("download ended after {written} of {n} bytes")));
    }
    if written == 0 {
        return Err(FetchError::Transient("the download was empty".into()));
    }
    file.flush().await.map_err(disk)?;
    file.sync_all().await.map_err(disk)?;
    drop(file);
    tmp.persist(dest).map_err(|e| disk(e.error))?;
    // The rename itself must survive a crash too.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(Fetched { bytes: written, sha256: hex::encode(hasher.finalize()) })
}

/// The sha256 of a file on disk (to check a done clip on resume).
pub fn sha256_of(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Removes temporary files a killed run left behind (`.<random>.part`).
pub fn remove_partials(out: &Path) {
    let Ok(entries) = std::fs::read_dir(out) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            remove_partials(&path);
        } else if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.') && n.ends_with(".part"))
        {
            let _ = std::fs::remove_file(path);
        }
    }
}
