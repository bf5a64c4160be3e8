//! Job keys (DESIGN "Identity"): stable, and changed only by what shapes a shot.

use std::collections::BTreeMap;

use crate::util::{copy_tree, plan_json, root};

fn keys_by_shot(doc: &serde_json::Value) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for job in doc["jobs"].as_array().unwrap() {
        map.entry(job["shot"].as_str().unwrap().to_owned()).or_default().push(job["key"].as_str().unwrap().to_owned());
    }
    map
}

fn scratch_example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&root().join("manifests"), dir.path());
    dir
}

#[test]
fn editing_one_shot_changes_only_that_shots_keys() {
    let dir = scratch_example();
    let before = keys_by_shot(&plan_json(dir.path(), "example.yaml"));
    let doc = plan_json(dir.path(), "example.yaml");
    let all: Vec<&str> = doc["jobs"].as_array().unwrap().iter().map(|j| j["key"].as_str().unwrap()).collect();
    let unique: std::collections::BTreeSet<&&str> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "keys are unique");

    // Edit the prompt of the first shot only.
    let path = dir.path().join("example.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let loaded = shotlist::manifest::load(&path).unwrap();
    let first = &loaded.manifest.shots[0];
    let line = first.line as usize;
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let prompt_line = (line - 1..lines.len()).find(|&i| lines[i].trim_start().starts_with("prompt:")).unwrap();
    lines[prompt_line] =
        lines[prompt_line].replacen("prompt:", "prompt: Edited,", 1).replace("Edited, \"", "\"Edited, ");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let after = keys_by_shot(&plan_json(dir.path(), "example.yaml"));
    assert_eq!(before.len(), after.len());
    for (shot, keys) in &before {
        if shot == &first.id {
            assert!(keys.iter().all(|k| !after[shot].contains(k)), "{shot} changed");
        } else {
            assert_eq!(keys, &after[shot], "{shot} untouched");
        }
    }
}

#[test]
fn reordering_shots_and_touching_frames_keep_keys_but_new_frame_content_changes_them() {
    let dir = scratch_example();
    let before = keys_by_shot(&plan_json(dir.path(), "example.yaml"));
    let loaded = shotlist::manifest::load(&dir.path().join("example.yaml")).unwrap();
    let with_frame = loaded
        .manifest
        .shots
        .iter()
        .find(|s| matches!(s.first_frame, Some(shotlist::manifest::Image::Local { .. })))
        .unwrap();
    let Some(shotlist::manifest::Image::Local { path, .. }) = &with_frame.first_frame else { unreachable!() };

    // Same bytes written again: same key.
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes).unwrap();
    assert_eq!(before, keys_by_shot(&plan_json(dir.path(), "example.yaml")));

    // Different bytes (a valid image: the other frame of the shot list): new key for that shot only.
    let other = loaded
        .manifest
        .shots
        .iter()
        .filter_map(|s| match &s.first_frame {
            Some(shotlist::manifest::Image::Local { path: p, .. }) if p != path => Some(p.clone()),
            _ => None,
        })
        .next()
        .unwrap();
    std::fs::copy(&other, path).unwrap();
    let after = keys_by_shot(&plan_json(dir.path(), "example.yaml"));
    let users: Vec<&str> = loaded
        .manifest
        .shots
        .iter()
        .filter(|s| {
            [&s.first_frame, &s.last_frame, &s.subject]
                .iter()
                .any(|i| matches!(i, Some(shotlist::manifest::Image::Local { path: p, .. }) if p == path))
        })
        .map(|s| s.id.as_str())
        .collect();
    for (shot, keys) in &before {
        assert_eq!(users.contains(&shot.as_str()), keys != &after[shot], "{shot}");
    }
}

#[test]
fn keys_do_not_depend_on_shot_position() {
    let dir = tempfile::tempdir().unwrap();
    let a = "  - id: a\n    prompt: a quiet lake\n";
    let b = "  - id: b\n    prompt: a loud city\n";
    let head = "version: 1\ndefaults: { provider: runware, model: hailuo-2.3 }\nshots:\n";
    std::fs::write(dir.path().join("ab.yaml"), format!("{head}{a}{b}")).unwrap();
    std::fs::write(dir.path().join("ba.yaml"), format!("{head}{b}{a}")).unwrap();
    assert_eq!(keys_by_shot(&plan_json(dir.path(), "ab.yaml")), keys_by_shot(&plan_json(dir.path(), "ba.yaml")));
}

/// Keys as shotlist computed them before the clip options (outputFormat, safety,
/// fastPretreatment, watermark, templates) existed: a manifest that uses none of them
/// keeps these keys, so the journals written then still resume.
#[test]
fn keys_of_a_manifest_without_the_new_options_are_unchanged() {
    let doc = plan_json(&root(), "tests/manifests/valid/keys-pinned.yaml");
    let keys: Vec<(&str, &str)> = doc["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["shot"].as_str().unwrap(), j["key"].as_str().unwrap()))
        .collect();
    assert_eq!(
        keys,
        [
            ("k010-runware", "b173394a1904512cf92ef3064d9e404a"),
            ("k020-minimax", "d2f5ad1dffe1044bef67fe3dc3a22247"),
            ("k030-segmind", "d2e744d78cad597cbff28b3696ccd73b"),
        ]
    );
}

/// An option that shapes the clip changes the key; the same option at its default
/// (or the safety check, which judges a clip without shaping it) does not.
#[test]
fn clip_options_enter_the_key_only_when_they_change_the_clip() {
    let dir = tempfile::tempdir().unwrap();
    let key_with = |extra: &str| {
        let m = format!(
            "version: 1\nshots:\n  - id: s010\n    provider: runware\n    model: minimax:3@1\n    prompt: a quiet lake at dawn\n{extra}"
        );
        std::fs::write(dir.path().join("m.yaml"), m).unwrap();
        plan_json(dir.path(), "m.yaml")["jobs"][0]["key"].as_str().unwrap().to_owned()
    };
    let plain = key_with("");
    assert_eq!(key_with("    outputFormat: mp4\n    outputQuality: 95\n"), plain);
    assert_eq!(key_with("    safety: { checkContent: true, mode: full }\n"), plain);
    let webm = key_with("    outputFormat: webm\n");
    let q80 = key_with("    outputQuality: 80\n");
    assert!(webm != plain && q80 != plain && webm != q80);
}
