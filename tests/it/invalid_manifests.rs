//! Every invalid manifest under `tests/manifests/invalid` exits 2, names the file,
//! the line and the field, and renders exactly as its snapshot.

use crate::util::{root, shotlist, stderr, stdout};

#[test]
fn each_invalid_manifest_exits_2_with_file_line_and_field() {
    let mut count = 0;
    insta::glob!("../manifests/invalid", "*.yaml", |path| {
        count += 1;
        let rel = path.strip_prefix(root()).unwrap().to_str().unwrap().to_owned();
        let out = shotlist(&["plan", &rel]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{rel}: {err}");
        assert!(stdout(&out).is_empty(), "{rel}: nothing on stdout without --json");
        // The miette header `[file:line:column]` and a `× field: message` line.
        let header = format!("[{rel}:");
        assert!(err.contains(&header), "{rel}: no file:line header in\n{err}");
        assert!(
            err.lines().any(|l| l.trim_start().starts_with("× ") && l.contains(": ")),
            "{rel}: no `× field: message` line in\n{err}"
        );
        assert!(err.contains("nothing was submitted"), "{rel}");
        insta::assert_snapshot!(err);
    });
    assert!(count >= 30, "only {count} invalid manifests");
}

#[test]
fn many_mistakes_are_all_reported_at_once_in_file_order() {
    let out = shotlist(&["plan", "tests/manifests/invalid/many-mistakes.yaml", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["valid"], false);
    let problems = doc["problems"].as_array().unwrap();
    let errors: Vec<_> = problems.iter().filter(|p| p["level"] == "error").collect();
    assert!(errors.len() >= 6, "{problems:#?}");
    let lines: Vec<u64> = problems.iter().map(|p| p["line"].as_u64().unwrap()).collect();
    assert!(lines.iter().all(|l| *l > 0));
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "not in file order: {lines:?}");
    let fields: std::collections::BTreeSet<&str> = errors.iter().map(|p| p["field"].as_str().unwrap()).collect();
    assert_eq!(fields.len(), errors.len(), "each mistake names its own field: {fields:?}");
}

#[test]
fn oversized_frame_is_refused_without_reading_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    // A PNG signature followed by 21 MiB of zeros: the size check must come first.
    let big = dir.path().join("big.png");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(21 * 1024 * 1024).unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        "version: 1\nshots:\n  - id: a\n    provider: runware\n    model: hailuo-2.3\n    prompt: a quiet lake\n    frames: { first: big.png }\n",
    )
    .unwrap();
    let out = crate::util::shotlist_in(dir.path(), &["plan", "m.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("21.0 MB; providers accept at most 20 MB"), "{err}");
    assert!(err.contains("shots[0].frames.first"), "{err}");
    assert!(err.contains("[m.yaml:7:"), "{err}");
}

#[test]
fn unreadable_and_missing_manifests_exit_2_naming_the_file() {
    let out = shotlist(&["plan", "tests/manifests/no-such-file.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("tests/manifests/no-such-file.yaml"), "{}", stderr(&out));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bin.yaml"), b"version: 1\n\xff\xfe shots").unwrap();
    let out = crate::util::shotlist_in(dir.path(), &["plan", "bin.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not UTF-8"), "{}", stderr(&out));
}

#[test]
fn usage_mistakes_exit_2() {
    assert_eq!(shotlist(&["plan"]).status.code(), Some(2));
    assert_eq!(shotlist(&["plann", "x.yaml"]).status.code(), Some(2));
    assert_eq!(shotlist(&["--help"]).status.code(), Some(0));
}
