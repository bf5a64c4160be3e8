//! The night on the screen, through the binary: an unreachable provider is named
//! within a minute with what shotlist does about it; the final summary names the
//! failed shots with their reason and the next command; every progress line fits
//! 80 columns with the count once and no ETA before there is data.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use crate::util::stderr;

fn shotlist_cmd(dir: &std::path::Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_shotlist"));
    cmd.current_dir(dir).args(args).env("NO_COLOR", "1");
    for (var, _) in crate::util::NIGHT_KEYS {
        cmd.env_remove(var);
    }
    for var in ["RUNWARE_BASE_URL", "MINIMAX_BASE_URL", "SEGMIND_BASE_URL", "SHOTLIST_LOG"] {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn a_refused_connection_is_named_on_screen_within_a_minute() {
    // A loopback port nobody listens on: every connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        "version: 1\nshots:\n  - { id: a, provider: runware, model: hailuo-2.3, prompt: a quiet lake at dawn }\n",
    )
    .unwrap();
    let mut child = shotlist_cmd(dir.path(), &["run", "m.yaml", "--out", "out"])
        .env("RUNWARE_API_KEY", "rw-test-key")
        .env("RUNWARE_BASE_URL", format!("http://127.0.0.1:{port}/v1"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    let mut seen = Vec::new();
    let found = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("runware cannot be reached") => break Some(line),
            Ok(line) => seen.push(line),
            Err(_) => break None,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let line = found.unwrap_or_else(|| panic!("no unreachable note within 60 s; stderr:\n{}", seen.join("\n")));
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(line.contains("retrying") && line.contains("RUNWARE_BASE_URL"), "{line}");
    assert!(!line.contains("rw-test-key"), "the key never shows");
}

#[test]
fn the_final_summary_names_the_failed_shot_with_its_reason_and_the_next_command() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("scenario.yaml"), "blockedWord: forbidden\n").unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        "version: 1\nshots:\n  - { id: good, provider: runware, model: hailuo-2.3, prompt: a quiet lake at dawn }\n  - { id: bad, provider: runware, model: hailuo-2.3, prompt: a forbidden lake at dawn }\n",
    )
    .unwrap();
    let out = shotlist_cmd(
        dir.path(),
        &["run", "m.yaml", "--rehearse", "--sim-scenario", "scenario.yaml", "--time-scale", "0.005", "-q"],
    )
    .output()
    .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let failed = err.lines().skip_while(|l| *l != "Failed:").nth(1).unwrap_or_else(|| panic!("no Failed: list\n{err}"));
    assert!(failed.starts_with("  bad #1 (runware): "), "{failed}");
    assert!(failed.contains("content"), "the reason is told: {failed}");
    assert!(!failed.contains("failed: failed:") && !failed.contains("content_blocked: content_blocked"), "{failed}");
    assert!(!err.lines().any(|l| l.starts_with("  good #")), "only failed shots are listed:\n{err}");
    let next = err.lines().find(|l| l.starts_with("Next: ")).unwrap_or_else(|| panic!("no next command\n{err}"));
    assert!(next.starts_with("Next: shotlist run m.yaml --rehearse"), "{next}");
}

/// Lines the progress display printed: the timed lines (`[   10s] ...`), the final
/// count and the per-provider lines under them.
fn progress_lines(err: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut under = false;
    for line in err.lines() {
        let timed = line.starts_with('[') && line.contains("s] ") && line.contains(" clips");
        let count = line.split_whitespace().next().is_some_and(|w| w.contains('/')) && line.contains(" clips");
        if timed || count {
            out.push(line);
            under = true;
        } else if under && line.starts_with("  ") && line.contains(" in flight") {
            out.push(line);
        } else {
            under = false;
        }
    }
    out
}

#[test]
fn every_progress_line_fits_80_columns_with_the_count_once_and_no_eta_before_data() {
    let dir = tempfile::tempdir().unwrap();
    crate::util::copy_tree(&crate::util::root().join("manifests"), dir.path());
    // Renders of about 12 s at this scale, so that a timed line (every 10 s) shows.
    std::fs::write(dir.path().join("slow.yaml"), "timeScale: 0.01\nrender: { minSecs: 1150, maxSecs: 1250 }\n")
        .unwrap();
    let out = shotlist_cmd(
        dir.path(),
        &["run", "example.yaml", "--rehearse", "--out", "night", "--sim-scenario", "slow.yaml", "--time-scale", "0.01"],
    )
    .output()
    .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let lines = progress_lines(&err);
    assert!(lines.iter().any(|l| l.starts_with("[")), "a timed progress line:\n{err}");
    assert!(lines.iter().any(|l| l.starts_with("10/10 clips")), "the final count:\n{err}");
    for line in &lines {
        assert!(line.chars().count() <= 80, "{} columns: {line}", line.chars().count());
        assert!(line.matches("clips").count() <= 1 && line.matches("/10").count() <= 1, "count once: {line}");
        assert!(!line.contains("eta 0 s"), "{line}");
    }
    // No clip was done before the first timed line: it shows no ETA at all.
    let first = lines.iter().find(|l| l.starts_with("[")).unwrap();
    if first.contains("] 0/") {
        assert!(!first.contains("eta"), "{first}");
    }
}
