//! `run.lock`: one runner per out folder. The lock is an OS file lock, so a lock
//! left by a dead process (killed, crashed) is free again and simply taken over.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Held while the run lives; released when dropped or when the process dies.
pub struct RunLock {
    _file: File,
    /// Who held it before, if the lock file named a process (a stale lock taken over).
    pub previous_holder: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another shotlist run is using {out} ({holder}); wait for it, or stop it first")]
    Busy { out: String, holder: String },
    #[error("cannot create {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

pub fn acquire(out: &Path) -> Result<RunLock, LockError> {
    let path = out.join("run.lock");
    let io = |source| LockError::Io { path: path.display().to_string(), source };
    let mut file = OpenOptions::new().create(true).read(true).write(true).truncate(false).open(&path).map_err(io)?;
    let mut previous = String::new();
    let _ = file.read_to_string(&mut previous);
    let previous = previous.trim().to_owned();
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = if previous.is_empty() { "holder unknown".to_owned() } else { previous };
            return Err(LockError::Busy { out: out.display().to_string(), holder });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let me = format!("pid {} since {}", std::process::id(), super::journal::now());
    file.write_all(me.as_bytes()).map_err(io)?;
    let _ = file.sync_all();
    Ok(RunLock { _file: file, previous_holder: (!previous.is_empty()).then_some(previous) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_runner_is_refused_and_a_released_lock_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path()).unwrap();
        match acquire(dir.path()) {
            Err(LockError::Busy { holder, .. }) => assert!(holder.contains(&std::process::id().to_string())),
            other => panic!("expected busy, got {:?}", other.map(|_| ())),
        }
        drop(first);
        let again = acquire(dir.path()).unwrap();
        assert!(again.previous_holder.is_some(), "the old holder is named");
    }
}
