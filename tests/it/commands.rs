//! The out folder and the commands around `run`, through the binary: clips and the
//! report honour the umask; `status` and `report` find the rehearsal with
//! `--rehearse`; `report --json`; completions and the man page; `--color`, `-v`
//! and `SHOTLIST_LOG` on every command; help for every positional argument.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::util::{stderr, stdout};

fn cmd(dir: &Path, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_shotlist"));
    c.current_dir(dir).args(args).env("NO_COLOR", "1").env_remove("SHOTLIST_LOG");
    for (var, _) in crate::util::NIGHT_KEYS {
        c.env_remove(var);
    }
    c
}

/// The README's rehearsal, in a scratch copy of `manifests/` (at a quick pace).
fn rehearsed() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    crate::util::copy_tree(&crate::util::root().join("manifests"), &dir.path().join("manifests"));
    let out = cmd(dir.path(), &["run", "manifests/example.yaml", "--rehearse", "-q", "--time-scale", "0.005"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    dir
}

#[test]
fn clips_and_the_report_honour_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    crate::util::copy_tree(&crate::util::root().join("manifests"), dir.path());
    let bin = env!("CARGO_BIN_EXE_shotlist");
    let out = std::process::Command::new("sh")
        .current_dir(dir.path())
        .args(["-c", &format!("umask 022; exec '{bin}' run example.yaml --rehearse --out night -q --time-scale 0.005")])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let folder = dir.path().join("night-rehearsal");
    let mut clips = 0;
    for f in crate::util::files_under(&folder) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".mp4") || name == "report.csv" {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "{} is {mode:o} under umask 022", f.display());
            clips += usize::from(name.ends_with(".mp4"));
        }
    }
    assert_eq!(clips, 10);
}

#[test]
fn status_and_report_find_the_rehearsal_with_rehearse() {
    let dir = rehearsed();
    let m = "manifests/example.yaml";
    // Right after the README's rehearsal: the real folder has nothing yet, and says so.
    let plain = cmd(dir.path(), &["status", m]).output().unwrap();
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
    assert!(stdout(&plain).contains("nothing has run yet"), "{}", stdout(&plain));
    assert!(stdout(&plain).contains("--rehearse"), "points at the rehearsal: {}", stdout(&plain));
    let status = cmd(dir.path(), &["status", m, "--rehearse"]).output().unwrap();
    let text = stdout(&status);
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    assert!(text.contains("spring-campaign-rehearsal: 10 clips: 10 done"), "{text}");
    assert!(!text.contains("$-0.00") && !text.contains("failed: failed:"), "{text}");
    assert!(
        text.contains("minimax: 2 done; $0.00 billed (reported) + $0.56 at list price, 1 clip with no price"),
        "{text}"
    );
    // `report --json`: the rows, as JSON, costs as numbers.
    let report = cmd(dir.path(), &["report", m, "--rehearse", "--json"]).output().unwrap();
    assert_eq!(report.status.code(), Some(0), "{}", stderr(&report));
    let rows: serde_json::Value = serde_json::from_slice(&report.stdout).expect("report --json prints JSON");
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().any(|r| r["cost_source"] == "list" && r["cost_usd"].as_f64() == Some(0.56)), "{rows:?}");
    assert!(dir.path().join("renders/spring-campaign-rehearsal/report.csv").exists());
    // Without --rehearse there is nothing to report: refused, and said so.
    let none = cmd(dir.path(), &["report", m]).output().unwrap();
    assert_eq!(none.status.code(), Some(2));
    assert!(stderr(&none).contains("nothing has run yet"), "{}", stderr(&none));
}

#[test]
fn status_never_prints_negative_zero_before_any_spend() {
    let dir = tempfile::tempdir().unwrap();
    crate::util::copy_tree(&crate::util::root().join("manifests"), &dir.path().join("manifests"));
    // A run refused for want of a key still opens no journal; one that ran and billed
    // nothing (every shot blocked) reports $0.00, never $-0.00.
    std::fs::write(dir.path().join("sc.yaml"), "blockedWord: lake\n").unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        "version: 1\nshots:\n  - { id: a, provider: runware, model: hailuo-2.3, prompt: a quiet lake at dawn }\n",
    )
    .unwrap();
    let run =
        cmd(dir.path(), &["run", "m.yaml", "--rehearse", "--sim-scenario", "sc.yaml", "--time-scale", "0.005", "-q"])
            .output()
            .unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let text = stdout(&cmd(dir.path(), &["status", "m.yaml", "--rehearse"]).output().unwrap());
    assert!(text.contains("$0.00 billed"), "{text}");
    assert!(!text.contains("$-0.00") && !text.contains("failed: failed:"), "{text}");
}

#[test]
fn completions_and_the_man_page_come_from_clap() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = cmd(dir.path(), &["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        assert!(stdout(&out).contains("rehearse"), "{shell} completes the flags");
    }
    let man = cmd(dir.path(), &["man"]).output().unwrap();
    assert_eq!(man.status.code(), Some(0));
    assert!(stdout(&man).starts_with(".ie") || stdout(&man).contains(".TH shotlist"), "{}", stdout(&man));
    assert_eq!(cmd(dir.path(), &["completions", "tcsh"]).output().unwrap().status.code(), Some(2));
}

#[test]
fn every_command_takes_verbose_and_color_and_positionals_have_help() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["plan", "run", "status", "report", "sim", "completions"] {
        let help = stdout(&cmd(dir.path(), &[sub, "-h"]).output().unwrap());
        assert!(help.contains("--verbose") && help.contains("--color <WHEN>"), "{sub}:\n{help}");
        assert!(help.contains("[possible values: auto, always, never]"), "{sub}:\n{help}");
        // No bare `<MANIFEST>` line without a description.
        for line in help.lines().skip_while(|l| !l.starts_with("Arguments:")).skip(1).take_while(|l| !l.is_empty()) {
            assert!(line.split_whitespace().count() > 1, "{sub}: no help for `{}`", line.trim());
        }
    }
    let bad = cmd(dir.path(), &["plan", "x.yaml", "--color", "sometimes"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    // --color always draws in colour even off a terminal; never never does.
    let m = crate::util::root().join("tests/manifests/invalid/version-2.yaml");
    let m = m.to_str().unwrap();
    let always = stderr(&cmd(dir.path(), &["plan", m, "--color", "always"]).output().unwrap());
    let never = stderr(&cmd(dir.path(), &["plan", m, "--color", "never"]).output().unwrap());
    assert!(always.contains('\u{1b}'), "{always}");
    assert!(!never.contains('\u{1b}'), "{never}");
}

#[test]
fn shotlist_log_writes_its_own_events_to_a_file_without_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    crate::util::copy_tree(&crate::util::root().join("manifests"), dir.path());
    let log = dir.path().join("night.log");
    let out =
        cmd(dir.path(), &["run", "example.yaml", "--rehearse", "-q", "--time-scale", "0.005", "--color", "always"])
            .env("SHOTLIST_LOG", &log)
            .output()
            .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).expect("SHOTLIST_LOG names a file that is written");
    assert!(!text.is_empty());
    assert!(!text.contains('\u{1b}'), "no colour codes in the log");
    assert!(text.contains("run started") && text.contains("journal record"), "{text}");
    assert!(text.lines().all(|l| l.contains("shotlist")), "only shotlist's own events:\n{text}");
    assert!(!text.contains("hyper") && !text.contains("reqwest::connect"), "not the HTTP pool's noise:\n{text}");
    assert!(!text.contains("rehearsal-key"), "never a key");
}
