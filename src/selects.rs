//! `<out>/selects.yaml`: the producer's marks (select / reject, a note) per take,
//! keyed by job key and variant so an edited shot (a new key) never inherits the
//! marks of the takes it replaced. Written atomically; read by the review page, the
//! report's `selected` column and `export`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file name inside the out folder.
pub const FILE: &str = "selects.yaml";

/// Bumped when the file's shape changes incompatibly.
const VERSION: u32 = 1;

/// What the producer said about a take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Select,
    Reject,
}

/// One take's mark.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mark {
    /// The job key (as in report.csv's `job_key`).
    pub job: String,
    pub variant: u32,
    /// The shot id, for people reading the file; the key decides.
    #[serde(default)]
    pub shot: String,
    /// No verdict: only a note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<Verdict>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// When it was last changed (RFC 3339 UTC).
    #[serde(default)]
    pub at: String,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct FileDoc {
    version: u32,
    #[serde(default)]
    takes: Vec<Mark>,
}

/// Every mark, by (job key, variant).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selects {
    marks: BTreeMap<(String, u32), Mark>,
}

/// Why selects.yaml could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SelectsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a selects file: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path} was written by a newer shotlist (version {found})")]
    Version { path: PathBuf, found: u32 },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl Selects {
    pub fn get(&self, job: &str, variant: u32) -> Option<&Mark> {
        self.marks.get(&(job.to_owned(), variant))
    }

    /// Whether the take is marked as a select.
    pub fn is_selected(&self, job: &str, variant: u32) -> bool {
        self.get(job, variant).is_some_and(|m| m.mark == Some(Verdict::Select))
    }

    /// Sets (or, with no verdict and no note, removes) a take's mark.
    pub fn set(&mut self, mark: Mark) {
        let key = (mark.job.clone(), mark.variant);
        if mark.mark.is_none() && mark.note.trim().is_empty() {
            self.marks.remove(&key);
        } else {
            self.marks.insert(key, mark);
        }
    }

    pub fn len(&self) -> usize {
        self.marks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    /// The file's text: a comment saying what it is, then the marks sorted by shot.
    pub fn to_yaml(&self) -> String {
        let mut takes: Vec<Mark> = self.marks.values().cloned().collect();
        takes.sort_by(|a, b| (&a.shot, a.variant, &a.job).cmp(&(&b.shot, b.variant, &b.job)));
        let doc = FileDoc { version: VERSION, takes };
        let body = serde_saphyr::to_string(&doc).expect("selects serialise");
        format!(
            "# shotlist selects: marks made in `shotlist review --serve`.\n\
             # Keyed by job key (report.csv's job_key) and variant; `shot` is for reading.\n{body}"
        )
    }
}

/// The marks of an out folder; no file means no marks.
pub fn load(out: &Path) -> Result<Selects, SelectsError> {
    let path = out.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Selects::default()),
        Err(source) => return Err(SelectsError::Read { path, source }),
    };
    if text.trim().is_empty() {
        return Ok(Selects::default());
    }
    let doc: FileDoc = serde_saphyr::from_str(&text)
        .map_err(|e| SelectsError::Parse { path: path.clone(), message: e.to_string() })?;
    if doc.version > VERSION {
        return Err(SelectsError::Version { path, found: doc.version });
    }
    let mut s = Selects::default();
    for m in doc.takes {
        s.set(m);
    }
    Ok(s)
}

/// Writes the marks atomically (see [`atomic_write`]).
pub fn save(out: &Path, selects: &Selects) -> Result<(), SelectsError> {
    let path = out.join(FILE);
    atomic_write(&path, selects.to_yaml().as_bytes()).map_err(|source| SelectsError::Write { path, source })
}

/// Writes a file atomically: a temporary file in the same folder, fsynced, renamed
/// over `path`, then the folder fsynced, so a kill at any moment leaves the old file
/// or the new one. The file gets the umask's default mode, like every other file
/// shotlist writes (tempfile's own default would be 0600). Used for selects.yaml,
/// review.html and exported timelines.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}"))
        .suffix(".part")
        .permissions(default_permissions())
        .tempfile_in(dir)?;
    tmp.as_file().write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(unix)]
fn default_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    // 0666 before the umask, as `File::create` does.
    std::fs::Permissions::from_mode(0o666)
}

#[cfg(not(unix))]
fn default_permissions() -> std::fs::Permissions {
    std::fs::metadata(".").map(|m| m.permissions()).expect("the current folder has metadata")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(job: &str, v: u32, verdict: Option<Verdict>, note: &str) -> Mark {
        Mark { job: job.into(), variant: v, shot: "s010".into(), mark: verdict, note: note.into(), at: "t".into() }
    }

    #[test]
    fn marks_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_empty(), "no file, no marks");
        let mut s = Selects::default();
        s.set(mark("k1", 2, Some(Verdict::Select), "the one: \"quotes\", <b>tags</b>\nand a line"));
        s.set(mark("k1", 1, Some(Verdict::Reject), ""));
        s.set(mark("k2", 1, None, "only a note"));
        save(dir.path(), &s).unwrap();
        let back = load(dir.path()).unwrap();
        assert_eq!(back, s);
        assert!(back.is_selected("k1", 2));
        assert!(!back.is_selected("k1", 1));
        assert!(!back.is_selected("k2", 1));
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(text.starts_with("# shotlist selects"), "{text}");
        assert!(text.contains("mark: select"), "{text}");
    }

    #[test]
    fn clearing_a_mark_removes_it() {
        let mut s = Selects::default();
        s.set(mark("k", 1, Some(Verdict::Select), ""));
        s.set(mark("k", 1, None, "  "));
        assert!(s.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn the_file_has_the_umask_default_mode_and_no_temp_is_left() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut s = Selects::default();
        s.set(mark("k", 1, Some(Verdict::Select), ""));
        save(dir.path(), &s).unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join(FILE)), mode(&plain));
        let names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        assert!(names.iter().all(|n| !n.ends_with(".part")), "{names:?}");
    }

    #[test]
    fn a_damaged_file_is_an_error_not_an_empty_set() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "takes: [ {job: ").unwrap();
        assert!(matches!(load(dir.path()), Err(SelectsError::Parse { .. })));
    }
}
