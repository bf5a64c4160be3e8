//! Shared helpers: run the binary from the repository root with a fixed, colourless
//! environment, and read its output.

use std::path::{Path, PathBuf};
use std::process::Output;

/// The repository root; manifests are passed relative to it so messages are stable.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `shotlist ARGS` in `dir` with no colour and no inherited provider settings.
pub fn shotlist_in(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = assert_cmd::Command::cargo_bin("shotlist").expect("binary built");
    cmd.current_dir(dir).args(args).env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    for var in [
        "RUNWARE_API_KEY",
        "MINIMAX_API_KEY",
        "SEGMIND_API_KEY",
        "RUNWARE_BASE_URL",
        "MINIMAX_BASE_URL",
        "SEGMIND_BASE_URL",
    ] {
        cmd.env_remove(var);
    }
    cmd.output().expect("shotlist runs")
}

pub fn shotlist(args: &[&str]) -> Output {
    shotlist_in(&root(), args)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `plan --json` of a manifest, parsed; panics unless it exits 0.
pub fn plan_json(dir: &Path, manifest: &str) -> serde_json::Value {
    let out = shotlist_in(dir, &["plan", manifest, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("plan --json prints JSON")
}

/// Copies a directory tree (the manifests and their frames) into a scratch folder.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
