//! The proof of reliability: a crash loop of a 200-job night, disk trouble, hostile
//! journals and provider answers, and secrets. Each test prints its figures.

use std::time::{Duration, Instant};

use shotlist::catalog::Provider;
use shotlist::sim::{Faults, RenderTime, SimConfig};

use crate::util::{NIGHT_KEYS, Night, check_night, mixed_manifest, proof_line, stderr, stdout};

fn night_config() -> SimConfig {
    SimConfig {
        time_scale: 0.01,
        render: RenderTime { min_secs: 60.0, max_secs: 120.0 },
        // Runs here are stopped and resumed on a loaded machine: keep Segmind's
        // records longer than its real hour, so no result expires between them.
        segmind_retention_secs: 1e6,
        ..SimConfig::default()
    }
}

const SCALE: &str = "0.01";

fn limits(m: String) -> String {
    m.replace(
        "name: night\n",
        "name: night\nproviders:\n  runware: { requestsPerMinute: 600, maxInFlight: 40 }\n  minimax: { requestsPerMinute: 120, maxInFlight: 20 }\n  segmind: { requestsPerMinute: 120, maxInFlight: 20 }\n",
    )
}

/// ~200 jobs on three providers with faults on, SIGKILLed at 30 moments (during
/// submits, between intents and answers, mid-download with padded clips, while the
/// report is rewritten), then run until it finishes.
#[tokio::test(flavor = "multi_thread")]
async fn crash_loop_of_a_200_job_night_never_pays_twice_and_loses_nothing() {
    let mut config = night_config();
    config.faults = Faults {
        http5xx: 0.03,
        provider_failure: 0.02,
        truncated_download: 0.03,
        slow_download: 0.05,
        ..Faults::default()
    };
    config.slow_download_ms = 5;
    config.clip_padding_bytes = 256 * 1024;
    let night = Night::start(config).await;
    night.write("m.yaml", &limits(mixed_manifest(120, 40, 40)));
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"];
    let started = Instant::now();
    let kills = night.kill_loop(&args, 0xC0FFEE, 40..1240, 30, 60).await;
    let code = night.run_to_the_end(&args).await.status.code().unwrap();
    let check = check_night(&night, "out");
    let ledger = night.sim.ledger();
    let figures = format!(
        "kills={kills} jobs={} clips={} done={} failed={} in_doubt={} double_charges={} lost_results={} \
         billed_unrecorded={} ledger_tasks={} exit={code} in {:.1} s",
        check.jobs,
        check.clips,
        check.done,
        check.failed,
        check.in_doubt,
        check.double_charges,
        check.lost_results,
        check.unrecorded_billed,
        ledger.entries.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(kills >= 25, "only {kills} kills landed");
    assert_eq!(check.clips, 120 + 40 + 40 + 40, "one row per clip");
    assert_eq!(check.double_charges, 0, "{}", check.double_charge_evidence.join("\n"));
    assert_eq!(check.lost_results, 0);
    assert!(check.unrecorded_billed <= check.in_doubt, "every billed-but-unrecorded task shows as in doubt: {check:?}");
    assert_eq!(check.pending, 0);
    assert_eq!(check.done + check.failed + check.in_doubt, check.clips);
    proof_line("crash loop", "200 jobs, 3 providers, faults on, SIGKILL at random", &figures);
}

/// Mounts a small tmpfs (root only); `None` where mounting is not allowed.
fn tmpfs(dir: &std::path::Path, size: &str) -> Option<()> {
    std::fs::create_dir_all(dir).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .ok()?
        .success();
    ok.then_some(())
}

fn remount(dir: &std::path::Path, opts: &str) {
    let s = std::process::Command::new("mount").args(["-o", &format!("remount,{opts}")]).arg(dir).status().unwrap();
    assert!(s.success(), "remount {opts}");
}

/// Turns a folder read-only under a running process: a read-only bind mount over it
/// (a plain remount is refused while files are open for writing). Files already
/// open stay writable, as on a real remount; every new file fails with EROFS.
fn bind_read_only(dir: &std::path::Path) {
    let bind = std::process::Command::new("mount").arg("--bind").arg(dir).arg(dir).status().unwrap();
    assert!(bind.success(), "bind mount");
    remount_bind_ro(dir);
}

fn remount_bind_ro(dir: &std::path::Path) {
    // EBUSY while a file opened through the new bind is being written (a download
    // that started in between): try again, a bounded number of times.
    for _ in 0..100 {
        let s = std::process::Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        if s.success() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("could not remount the bind read-only");
}

fn unbind(dir: &std::path::Path) {
    let s = std::process::Command::new("umount").arg("-l").arg(dir).status().unwrap();
    assert!(s.success(), "remove the read-only bind");
}

struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_halts_with_a_clear_error_and_a_rerun_after_freeing_space_completes() {
    let mut config = night_config();
    config.clip_padding_bytes = 300 * 1024;
    let night = Night::start(config).await;
    let out = night.out("disk");
    if tmpfs(&out, "1200k").is_none() {
        eprintln!("SKIPPED: mounting a tmpfs is not allowed here (needs root)");
        return;
    }
    let _unmount = Unmount(out.clone());
    night.write("m.yaml", &limits(mixed_manifest(8, 2, 2)));
    let args = ["run", "m.yaml", "--out", "disk", "--time-scale", SCALE, "-q"];
    let first = night.run(&args).await;
    let err = stderr(&first);
    assert_eq!(first.status.code(), Some(3), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("run the same command again"), "{err}");
    // The journal stays readable, whatever was cut.
    shotlist::run::journal::read(&out.join("state.jsonl")).expect("journal consistent after ENOSPC");
    let billed_before = night.sim.ledger().entries.len();
    remount(&out, "size=64m");
    let second = night.run(&args).await;
    let rows = crate::util::read_report(&out.join("report.csv"));
    let not_done: Vec<_> = rows.iter().filter(|r| r["status"] != "done").collect();
    assert_eq!(second.status.code(), Some(0), "{}\n{not_done:?}", stderr(&second));
    let check = check_night(&night, "disk");
    assert_eq!((check.done, check.double_charges, check.lost_results), (check.clips, 0, 0));
    proof_line(
        "disk trouble",
        "out folder fills up (1.2 MB tmpfs)",
        &format!(
            "first run exit 3 (No space left), {billed_before} tasks billed; rerun after freeing space exit 0: {}/{} clips done, 0 double charges, 0 lost",
            check.done, check.clips
        ),
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_folder_turning_read_only_mid_run_halts_and_a_rerun_completes() {
    let mut config = night_config();
    config.render = RenderTime { min_secs: 100.0, max_secs: 300.0 };
    let night = Night::start(config).await;
    let out = night.out("ro");
    if tmpfs(&out, "64m").is_none() {
        eprintln!("SKIPPED: mounting a tmpfs is not allowed here (needs root)");
        return;
    }
    let _unmount = Unmount(out.clone());
    night.write("m.yaml", &limits(mixed_manifest(12, 3, 3)));
    let args = ["run", "m.yaml", "--out", "ro", "--time-scale", SCALE, "-q"];
    let child =
        night.command(&args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let journal = out.join("state.jsonl");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&journal).unwrap_or_default().contains("\"downloaded\"") {
        assert!(Instant::now() < deadline, "nothing downloaded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bind_read_only(&out);
    let (code, err) = crate::util::wait_bounded(child, Duration::from_secs(60)).await;
    assert_ne!(code, None, "the run did not stop within 60 s of its folder turning read-only");
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    unbind(&out);
    let second = night.run(&args).await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let check = check_night(&night, "ro");
    assert_eq!((check.done, check.double_charges, check.lost_results), (check.clips, 0, 0));
    proof_line(
        "disk trouble",
        "out folder turns read-only mid-run",
        &format!(
            "first run exit 3 (Read-only file system); rerun exit 0: {}/{} clips done, 0 double charges, 0 lost",
            check.done, check.clips
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_journal_corrupted_in_the_middle_stops_with_its_line_and_overwrites_nothing() {
    let night = Night::start(night_config()).await;
    night.write("m.yaml", &mixed_manifest(3, 0, 0));
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"];
    assert_eq!(night.run(&args).await.status.code(), Some(0));
    let path = night.out("out").join("state.jsonl");
    let mut lines: Vec<String> = std::fs::read_to_string(&path).unwrap().lines().map(str::to_owned).collect();
    lines[3] = "{\"t\":\"intent\",\"key\":".to_owned();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let before = std::fs::read(&path).unwrap();
    let report_before = std::fs::read(night.out("out").join("report.csv")).unwrap();
    let out = night.run(&args).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 4 is damaged"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&path).unwrap(), before, "the journal is untouched");
    assert_eq!(std::fs::read(night.out("out").join("report.csv")).unwrap(), report_before);
    let status = night.run(&["status", "m.yaml", "--out", "out"]).await;
    assert_eq!(status.status.code(), Some(2), "status says so too");
    proof_line(
        "hostile input",
        "journal corrupted mid-file",
        "run and status exit 2 naming line 4; journal and report byte-identical",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_torn_last_line_is_dropped_and_the_run_resumes() {
    let night = Night::start(night_config()).await;
    night.write("m.yaml", &mixed_manifest(3, 1, 0));
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"];
    assert_eq!(night.run(&args).await.status.code(), Some(0));
    let path = night.out("out").join("state.jsonl");
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    std::io::Write::write_all(&mut f, b"{\"t\":\"downloaded\",\"key\":\"abc\",\"var").unwrap();
    let out = night.run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("last line was cut off"), "{}", stderr(&out));
    assert!(shotlist::run::journal::read(&path).unwrap().records.len() > 5);
    assert!(!shotlist::run::journal::read(&path).unwrap().torn_tail, "the torn line was cut away");
    proof_line("hostile input", "journal with a torn last line", "dropped with a note; the run resumes and exits 0");
}

/// A fake Runware answering with hostile results: a videoUUID that tries to climb
/// out of the folder and a file:// video URL.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_provider_answers_are_refused_without_harm() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};
    let server = MockServer::start().await;
    let base = server.uri();
    Mock::given(method("POST"))
        .and(path("/v1"))
        .respond_with(move |req: &Request| {
            let tasks: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
            let mut data = Vec::new();
            for t in tasks.as_array().unwrap() {
                let uuid = t["taskUUID"].as_str().unwrap();
                if t["taskType"] == "videoInference" {
                    data.push(serde_json::json!({"taskType": "videoInference", "taskUUID": uuid}));
                    continue;
                }
                let url = "file:///etc/passwd";
                data.push(serde_json::json!({
                    "taskType": "videoInference", "taskUUID": uuid, "status": "success",
                    "videoUUID": format!("../../../escape-{uuid}"), "cost": 0.28, "seed": 7, "videoURL": url,
                }));
            }
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": data}))
        })
        .mount(&server)
        .await;
    let night = Night::start(night_config()).await;
    night.write("m.yaml", &mixed_manifest(6, 0, 0));
    let mut cmd = night.command(&["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"]);
    cmd.env("RUNWARE_BASE_URL", format!("{base}/v1"));
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = crate::util::read_report(&night.out("out").join("report.csv"));
    assert!(rows.iter().all(|r| r["status"] == "failed"), "{rows:?}");
    assert!(rows.iter().any(|r| r["error"].contains("not http(s)")), "{rows:?}");
    // Nothing was written anywhere but the shot folders, and no clip at all.
    let escaped: Vec<_> = std::fs::read_dir(night.dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(escaped.iter().all(|n| !n.to_string_lossy().starts_with("escape")), "{escaped:?}");
    for p in crate::util::files_under(&night.out("out")) {
        let name = p.to_string_lossy();
        assert!(!name.ends_with(".mp4") && !name.ends_with(".part"), "{}", p.display());
    }
    proof_line(
        "hostile input",
        "videoUUID with ../ and a file:// URL",
        &format!("{} clips refused (failed, \"not http(s)\"), nothing written outside the shot folders", rows.len()),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_answer_body_is_refused_and_the_poll_retried() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b' '; 6 * 1024 * 1024]))
        .mount(&server)
        .await;
    let endpoint =
        shotlist::provider::Endpoint::new(format!("{}/v1", server.uri()), shotlist::provider::ApiKey::new("k"));
    let client = shotlist::provider::AnyClient::new(Provider::Runware, endpoint);
    let task = shotlist::provider::RemoteTask {
        id: uuid::Uuid::new_v4().to_string(),
        status_url: None,
        response_url: None,
        api: Default::default(),
        kind: Default::default(),
    };
    let targets = [shotlist::provider::PollTarget { task: &task, number_results: 1 }];
    let e = shotlist::provider::VideoApi::poll(&client, &targets).await.unwrap_err();
    assert_eq!(e.class, shotlist::provider::ErrorClass::Transient, "{e}");
    assert!(e.message.contains("too large"), "{e}");
    proof_line("hostile input", "a 6 MB answer body", "refused as transient (\"too large\"), the poll is tried again");
}

/// A whole night with distinctive keys and debug logging: no key anywhere.
#[tokio::test(flavor = "multi_thread")]
async fn no_key_appears_in_output_logs_journal_report_or_any_file() {
    let mut config = night_config();
    config.faults.http5xx = 0.1;
    config.faults.provider_failure = 0.1;
    let night = Night::start(config).await;
    night.write("m.yaml", &mixed_manifest(4, 2, 2));
    let mut cmd = night.command(&["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-vvv"]);
    cmd.env("SHOTLIST_LOG", night.out("night.log"));
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let status = night.run(&["status", "m.yaml", "--out", "out", "--json"]).await;
    let mut texts = vec![
        ("stdout".to_owned(), stdout(&out)),
        ("stderr".to_owned(), stderr(&out)),
        ("status".to_owned(), stdout(&status)),
    ];
    assert!(stderr(&out).contains("TRACE") || stderr(&out).contains("DEBUG"), "logging was on");
    assert!(std::fs::metadata(night.out("night.log")).is_ok_and(|m| m.len() > 0), "the log file was written");
    let files = crate::util::files_under(night.dir.path());
    for p in &files {
        texts.push((p.display().to_string(), String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned()));
    }
    let files = files.len();
    for (what, text) in &texts {
        for (var, key) in NIGHT_KEYS {
            assert!(!text.contains(key), "{var}'s value appears in {what}");
        }
    }
    proof_line(
        "secrets",
        "3 distinctive keys, trace logging, faults on",
        &format!("{} outputs and {files} files checked, no key found", texts.len() - files),
    );
}
