//! Bad input never panics: arbitrary bytes and arbitrary YAML structures go through
//! the loader (bounded case counts, so the suite stays quick).

use proptest::prelude::*;
use std::path::Path;

fn load(text: String) {
    // Only the absence of a panic matters; valid or invalid are both fine answers.
    let _ = shotlist::manifest::load_str(text, "fuzz.yaml".into(), Path::new("."));
}

/// YAML-ish documents built from the manifest's own vocabulary, so that the fuzzer
/// reaches the deep checks rather than stopping at syntax.
fn yaml_value() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "version",
        "shots",
        "id",
        "prompt",
        "provider",
        "model",
        "resolution",
        "duration",
        "numberResults",
        "camera",
        "frames",
        "first",
        "last",
        "subject",
        "defaults",
        "providers",
        "budget",
        "maxCostUsd",
        "runware",
        "requestsPerMinute",
        "promptOptimizer",
        "output",
        "x",
    ]);
    let scalar = prop_oneof![
        Just("1".to_owned()),
        Just("-3".to_owned()),
        Just("1e309".to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("hailuo-2.3".to_owned()),
        Just("runware".to_owned()),
        Just("\"[Pan left, x, y, z]\"".to_owned()),
        Just("../../etc/passwd".to_owned()),
        Just("https://example.com/a.png".to_owned()),
        "[a-z0-9 :\\[\\]{}@#&*!|>'\"%-]{0,12}",
    ];
    scalar.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec((key.clone(), inner), 0..5).prop_map(|kv| {
                let body: Vec<String> = kv.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        load(String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn arbitrary_yaml_structures_never_panic(doc in yaml_value()) {
        load(doc.clone());
        load(format!("version: 1\nshots:\n  - {doc}\n"));
        load(format!("version: 1\ndefaults: {doc}\nshots: [{{id: a, prompt: ab, provider: runware, model: hailuo-2.3}}]\n"));
    }
}
