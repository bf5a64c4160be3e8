//! The morning after: `review` (the page, checked in a real headless chromium),
//! `review --serve` (marks reach selects.yaml, report.csv and the export), and
//! `export` (the timeline read back by PyPI `opentimelineio`, the EDL by its
//! `cmx_3600` adapter). Each needs a tool from outside: missing, it fails under CI
//! and says why (and returns) elsewhere.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::util::{copy_tree, plan_json, proof_line, read_report, root, shotlist_in, stderr};

const MANIFEST: &str = "manifests/example.yaml";
const OUT: &str = "renders/spring-campaign-rehearsal";

/// A shot added after the night ran: its take is pending, its prompt is hostile HTML.
const LATE_SHOT: &str = r#"
  - id: s100-late
    prompt: "A late idea <script>document.title='owned'</script> & \"quoted\" <b>text</b>."
"#;

/// A rehearsed night (the README's main command) in a scratch folder, then a shot
/// added to the manifest (pending) and one clip file moved away (done, no file).
fn rehearsed_night() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&root().join("manifests"), &dir.path().join("manifests"));
    let run = shotlist_in(dir.path(), &["run", MANIFEST, "--rehearse", "--quiet"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let manifest = dir.path().join(MANIFEST);
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str(LATE_SHOT);
    std::fs::write(&manifest, text).unwrap();
    let outro = dir.path().join(OUT).join("s090-outro/s090-outro_1.mp4");
    std::fs::rename(&outro, dir.path().join("moved-away.mp4")).unwrap();
    dir
}

/// `skip` unless CI is set, where a missing tool is a failure.
fn missing(what: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is required under CI (.ci/run installs it)");
    }
    eprintln!("SKIPPING: {what} is not available here (CI installs it)");
}

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n))).find(|p| p.is_file())
}

/// Runs headless chromium on `url` with `args`, bounded to 90 s: its stdout.
fn headless(chromium: &Path, profile: &Path, args: &[&str], url: &str) -> String {
    let mut child = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars", "--mute-audio"])
        .arg(format!("--user-data-dir={}", profile.display()))
        // The page must not need the network: everything but loopback (which chromium
        // never proxies) goes to a proxy that is not there.
        .arg("--proxy-server=127.0.0.1:9")
        .args(["--virtual-time-budget=3000", "--run-all-compositor-stages-before-draw"])
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).unwrap();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium {args:?} {url}: {status}");
            break;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("chromium {args:?} {url} did not finish in 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

/// The `<article class="take ...">` opening tags of a DOM dump.
fn take_tags(dom: &str) -> Vec<&str> {
    dom.match_indices("<article").map(|(i, _)| &dom[i..i + dom[i..].find('>').unwrap()]).collect()
}

/// What the page must show, read from the report and the folder, not from the page.
fn check_dom(dom: &str, out: &Path, ctx: &str) {
    assert!(dom.contains(r#"data-ready="yes""#), "{ctx}: the page's script ran");
    let rows = read_report(&out.join("report.csv"));
    let tags = take_tags(dom);
    // The late shot is not in report.csv yet (no run since); the page has it, pending.
    assert_eq!(tags.len(), rows.len() + 1, "{ctx}: one card per take");
    for r in &rows {
        let id = format!(r#"id="take-{}-{}""#, r["job_key"], r["variant"]);
        assert!(tags.iter().any(|t| t.contains(&id)), "{ctx}: no card for {} #{}", r["shot_id"], r["variant"]);
    }
    let playable: Vec<&str> = rows
        .iter()
        .filter(|r| r["status"] == "done" && out.join(&r["file"]).is_file())
        .map(|r| r["file"].as_str())
        .collect();
    assert_eq!(playable.len(), rows.len() - 1, "{ctx}: one file was moved away");
    assert_eq!(dom.matches("<video").count(), playable.len(), "{ctx}: one <video> per done clip whose file exists");
    assert!(dom.contains(r#"data-videos=""#), "{ctx}");
    assert!(dom.contains(&format!(r#"data-videos="{}""#, playable.len())), "{ctx}: the script counted the videos");
    for f in &playable {
        assert!(dom.contains(&format!(r#"src="{f}""#)), "{ctx}: a relative link to {f}");
    }
    assert!(dom.contains("file missing: s090-outro/s090-outro_1.mp4"), "{ctx}: the moved clip is named, not played");
    let late = tags.iter().find(|t| t.contains(r#"data-shot="s100-late""#)).expect("the late shot's take");
    assert!(late.contains("status-pending"), "{ctx}: {late}");
    assert!(
        dom.contains(
            "A late idea &lt;script&gt;document.title='owned'&lt;/script&gt; &amp; \"quoted\" &lt;b&gt;text&lt;/b&gt;."
        ),
        "{ctx}: the prompt is shown as text"
    );
    assert!(!dom.contains("<title>owned"), "{ctx}: the prompt's script did not run");
    assert!(dom.contains(&format!(r#"id="total-clips">{} clips"#, rows.len() + 1)), "{ctx}: totals");
    assert!(dom.contains(r#"id="total-spend">spent $"#), "{ctx}: totals");
}

/// Starts `review --serve 127.0.0.1:0`: the child and its base URL.
fn serve(dir: &Path) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shotlist"))
        .current_dir(dir)
        .args(["review", MANIFEST, "--rehearse", "--serve", "127.0.0.1:0"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("review --serve starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    (child, url)
}

fn post(url: &str, origin: &str, body: serde_json::Value) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{url}api/mark"))
            .header("origin", origin)
            .json(&body)
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
}

/// Drives the served page in chromium (DevTools protocol): a click on take 2's
/// Select, then on take 1 the keys `x` (reject) and `n`, a note, Esc (saves it).
/// Returns once the page says each mark was saved; a screenshot of the page after.
fn mark_in_browser(chromium: &Path, url: &str, key: &str) {
    use headless_chrome::{Browser, LaunchOptions, protocol::cdp::Page::CaptureScreenshotFormatOption};
    let proxy = std::ffi::OsStr::new("--proxy-server=127.0.0.1:9");
    let options = LaunchOptions::default_builder()
        .path(Some(chromium.to_path_buf()))
        .headless(true)
        .sandbox(false)
        .window_size(Some((1280, 2000)))
        .args(vec![proxy])
        .idle_browser_timeout(Duration::from_secs(90))
        .build()
        .unwrap();
    let browser = Browser::new(options).expect("chromium starts under the DevTools protocol");
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(20));
    tab.navigate_to(url).unwrap().wait_until_navigated().unwrap();
    tab.wait_for_element(r#"body[data-ready="yes"]"#).unwrap();
    let text = |sel: &str| -> String {
        let js = format!("document.querySelector('{sel}').textContent");
        tab.evaluate(&js, false).unwrap().value.and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    };
    let saved = |take: &str, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while text(&format!("#{take} .saved")) != "saved" {
            assert!(
                Instant::now() < deadline,
                "{what}: the page never said saved ({:?})",
                text(&format!("#{take} .saved"))
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let (two, one) = (format!("take-{key}-2"), format!("take-{key}-1"));
    tab.wait_for_element(&format!("#{two} button[data-act=select]")).unwrap().click().unwrap();
    saved(&two, "click on Select");
    tab.wait_for_element(&format!("#{two}.mark-select")).unwrap();
    tab.wait_for_element(&format!("#{one}")).unwrap().focus().unwrap();
    tab.press_key("x").unwrap();
    saved(&one, "key x");
    tab.wait_for_element(&format!("#{one}.mark-reject")).unwrap();
    tab.press_key("n").unwrap();
    tab.type_str("soft <focus> & late").unwrap();
    tab.press_key("Escape").unwrap();
    // The server's answer, as the page recorded it: the note it saved.
    let deadline = Instant::now() + Duration::from_secs(20);
    while tab
        .evaluate(&format!("document.querySelector('#{one}').dataset.savedNote"), false)
        .unwrap()
        .value
        .is_none_or(|v| v != "soft <focus> & late")
    {
        assert!(Instant::now() < deadline, "the note was never acknowledged");
        std::thread::sleep(Duration::from_millis(50));
    }
    let png = tab.capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true).unwrap();
    std::fs::write(root().join("target/review-served.png"), png).unwrap();
}

fn export_otio(dir: &Path, file: &str) -> serde_json::Value {
    let out = shotlist_in(dir, &["export", MANIFEST, "--rehearse", "--otio", file]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
}

/// The clip names of an exported timeline, gaps as `-`.
fn cut_names(otio: &serde_json::Value) -> Vec<String> {
    otio["tracks"]["children"][0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| if c["OTIO_SCHEMA"] == "Gap.1" { "-".to_owned() } else { c["name"].as_str().unwrap().to_owned() })
        .collect()
}

#[test]
fn review_page_in_chromium_shows_every_take_and_a_served_select_reaches_selects_report_and_export() {
    let Some(chromium) = chromium() else { return missing("chromium (apt-get install -y chromium)") };
    let night = rehearsed_night();
    let dir = night.path();
    let out = dir.join(OUT);
    let profile = tempfile::tempdir().unwrap();

    // The static page, from file://, after its script ran.
    let review = shotlist_in(dir, &["review", MANIFEST, "--rehearse"]);
    assert_eq!(review.status.code(), Some(0), "{}", stderr(&review));
    let page = url::Url::from_file_path(out.join("review.html")).unwrap().to_string();
    let dom = headless(&chromium, profile.path(), &["--dump-dom"], &page);
    check_dom(&dom, &out, "review.html");
    assert!(dom.contains(r#"data-mode="static""#));
    // Posters and contact sheets exactly when ffmpeg is there; the page works either way.
    let sheet = out.join("s010-platform/s010-platform_contact.jpg");
    if shotlist::review::posters::ffmpeg().is_some() {
        assert!(dom.contains(r#"poster="s010-platform/s010-platform_1.poster.jpg""#), "a poster per take");
        assert!(sheet.is_file() && dom.contains(r#"src="s010-platform/s010-platform_contact.jpg""#));
    } else {
        assert!(!dom.contains("poster=") && !sheet.exists(), "no ffmpeg, no images");
    }

    // ... and still after the out folder is copied elsewhere (relative links only).
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&out, copy.path());
    let copied = url::Url::from_file_path(copy.path().join("review.html")).unwrap().to_string();
    check_dom(&headless(&chromium, profile.path(), &["--dump-dom"], &copied), copy.path(), "copied review.html");

    let shot = root().join("target/review-page.png");
    let _ = std::fs::remove_file(&shot);
    headless(
        &chromium,
        profile.path(),
        &[&format!("--screenshot={}", shot.display()), "--window-size=1280,2400"],
        &page,
    );
    let png = std::fs::read(&shot).expect("a screenshot under target/");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot ({} bytes)", png.len());

    // Before any mark: each shot's first done take; the moved clip and the late shot are gaps.
    let before = cut_names(&export_otio(dir, "before.otio"));
    assert_eq!(before[0], "s010-platform_1", "{before:?}");
    assert_eq!(&before[before.len() - 2..], ["-", "-"], "{before:?}");

    // The served page, then a select through the server, as the page's script sends it.
    let (mut server, url) = serve(dir);
    let served = headless(&chromium, profile.path(), &["--dump-dom"], &url);
    check_dom(&served, &out, "served page");
    assert!(served.contains(r#"data-mode="live""#));
    let rows = read_report(&out.join("report.csv"));
    let take2 = rows.iter().find(|r| r["shot_id"] == "s010-platform" && r["variant"] == "2").unwrap();
    let key = take2["job_key"].clone();
    // Another origin is refused (a browser would send its own origin; forged here).
    let forged = serde_json::json!({"job": key, "variant": 2, "mark": "select", "note": ""});
    let (code, body) = post(&url, "http://evil.example", forged);
    assert_eq!(code, 403, "another origin is refused: {body}");
    assert!(!out.join("selects.yaml").exists(), "a refused request changes nothing");

    // In the browser: a click selects take 2; keys reject take 1 and add a note.
    mark_in_browser(&chromium, &url, &key);
    // Acknowledged on the page, then the server is killed at once: the marks are on disk.
    server.kill().unwrap();
    let _ = server.wait();

    let selects = std::fs::read_to_string(out.join("selects.yaml")).unwrap();
    assert!(selects.contains(&key) && selects.contains("mark: select"), "{selects}");
    let marks = shotlist::selects::load(&out).unwrap();
    assert!(marks.is_selected(&key, 2) && !marks.is_selected(&key, 1));
    let one = marks.get(&key, 1).expect("take 1 is marked");
    assert_eq!(one.mark, Some(shotlist::selects::Verdict::Reject));
    assert_eq!(one.note, "soft <focus> & late");
    let selected: Vec<(String, String)> = read_report(&out.join("report.csv"))
        .iter()
        .filter(|r| r["selected"] == "yes")
        .map(|r| (r["shot_id"].clone(), r["variant"].clone()))
        .collect();
    assert_eq!(selected, [("s010-platform".to_owned(), "2".to_owned())], "report.csv's selected column");
    // `shotlist report` rebuilds the same column from selects.yaml.
    assert_eq!(shotlist_in(dir, &["report", MANIFEST, "--out", OUT]).status.code(), Some(0));
    assert!(read_report(&out.join("report.csv")).iter().any(|r| r["selected"] == "yes" && r["variant"] == "2"));

    let after = cut_names(&export_otio(dir, "after.otio"));
    assert_eq!(after[0], "s010-platform_2", "the select replaces the first take: {after:?}");
    assert_eq!(after[1..], before[1..]);

    // The static page shows the mark too.
    let dom = headless(&chromium, profile.path(), &["--dump-dom"], &page);
    let tag = take_tags(&dom).into_iter().find(|t| t.contains(&format!("take-{key}-2"))).unwrap().to_owned();
    assert!(tag.contains("mark-select"), "{tag}");
    assert!(dom.contains("soft &lt;focus&gt; &amp; late"), "the note, escaped");
    proof_line(
        "review",
        "page in headless chromium, marks via --serve",
        &format!(
            "{} takes, {} <video>, 1 pending, 1 missing file; click + keys -> selects.yaml, report, export; target/review-page.png",
            take_tags(&dom).len(),
            dom.matches("<video").count()
        ),
    );
}

#[test]
fn exported_timeline_and_edl_read_back_in_opentimelineio() {
    let venv = root().join("target/otio-venv");
    let made = Command::new("bash")
        .current_dir(root())
        .args(["conformance/venv.sh", &venv.to_string_lossy(), "conformance/otio-requirements.txt"])
        .stderr(Stdio::inherit())
        .output()
        .expect("bash runs");
    if !made.status.success() {
        return missing("python3 -m venv with PyPI opentimelineio (conformance/otio-requirements.txt)");
    }
    let python = String::from_utf8(made.stdout).unwrap().trim().to_owned();
    let night = rehearsed_night();
    let dir = night.path();
    let out = std::path::absolute(dir.join(OUT)).unwrap();
    let rows = read_report(&out.join("report.csv"));
    let key = rows.iter().find(|r| r["shot_id"] == "s010-platform").unwrap()["job_key"].clone();
    let mut marks = shotlist::selects::Selects::default();
    for v in [2, 1] {
        marks.set(shotlist::selects::Mark {
            job: key.clone(),
            variant: v,
            shot: "s010-platform".into(),
            mark: Some(shotlist::selects::Verdict::Select),
            note: String::new(),
            at: String::new(),
        });
    }
    shotlist::selects::save(&out, &marks).unwrap();

    // Expected: both selects of s010 in variant order, every other shot's take,
    // gaps for the moved clip and the late shot; the simulator's clip is 25 fps, 50 frames.
    let mut items = Vec::new();
    let clip = |shot: &str, v: u32| {
        let file = out.join(format!("{shot}/{shot}_{v}.mp4"));
        serde_json::json!({"kind": "clip", "name": format!("{shot}_{v}"), "frames": 50, "rate": 25.0,
                           "target": url::Url::from_file_path(&file).unwrap().to_string()})
    };
    items.push(clip("s010-platform", 1));
    items.push(clip("s010-platform", 2));
    for r in rows.iter().filter(|r| r["shot_id"] != "s010-platform" && r["shot_id"] != "s090-outro") {
        items.push(clip(&r["shot_id"], 1));
    }
    // Gaps last as long as the shot was meant to, at the model's catalog rate.
    let plan = plan_json(dir, MANIFEST);
    for gap_shot in ["s090-outro", "s100-late"] {
        let job = plan["jobs"].as_array().unwrap().iter().find(|j| j["shot"] == gap_shot).unwrap();
        let (fps, secs) = (job["fps"].as_f64().unwrap(), job["duration"].as_f64().unwrap());
        items.push(serde_json::json!({"kind": "gap", "frames": fps * secs, "rate": fps}));
    }
    let expect = dir.join("expect.json");
    std::fs::write(&expect, serde_json::json!({ "items": items }).to_string()).unwrap();

    for args in [["--otio", "cut.otio"], ["--edl", "cut.edl"]] {
        let o = shotlist_in(dir, &["export", MANIFEST, "--rehearse", args[0], args[1]]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stderr(&o).contains("(9 clips, 2 gaps)"), "{}", stderr(&o));
    }
    let check = Command::new(&python)
        .arg(root().join("conformance/otio_check.py"))
        .args([&expect, &dir.join("cut.otio"), &dir.join("cut.edl")])
        .output()
        .expect("python runs");
    let said = format!("{}{}", String::from_utf8_lossy(&check.stdout), String::from_utf8_lossy(&check.stderr));
    assert!(check.status.success(), "{said}");
    assert_eq!(said.matches("otio_check: ok").count(), 2, "{said}");
    proof_line(
        "review",
        "export read back by opentimelineio 0.18.1",
        "9 clips + 2 gaps at 25 fps (.otio), cmx_3600 EDL",
    );
}
