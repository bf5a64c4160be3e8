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

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    /// The journal reader never panics, whatever bytes it finds; what it accepts it
    /// accepts whole.
    #[test]
    fn the_journal_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600), header in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.jsonl");
        let mut content = Vec::new();
        if header {
            content.extend_from_slice(b"{\"t\":\"header\",\"v\":1,\"run_id\":\"00000000-0000-0000-0000-000000000000\",\"created_at\":\"x\",\"tool\":\"t\"}\n");
        }
        content.extend_from_slice(&bytes);
        std::fs::write(&path, &content).unwrap();
        if let Ok(r) = shotlist::run::journal::read(&path) {
            prop_assert!(r.valid_len <= content.len() as u64);
            let _ = shotlist::run::state::RunState::replay(&r.records);
        }
    }

    /// Plausible but wrong records (valid JSON lines of the right shape with odd values).
    #[test]
    fn replaying_odd_records_never_panics(variant in 0u32..5, n in 0usize..20) {
        use shotlist::run::journal::Record;
        let mut records = vec![Record::Header { v: 1, run_id: uuid::Uuid::nil(), created_at: "x".into(), tool: "t".into() }];
        for i in 0..n {
            let key = format!("k{}", i % 3);
            records.push(match i % 4 {
                0 => Record::Downloaded { key, variant, file: "../x".into(), sha256: "0".into(), bytes: 0, at: "x".into() },
                1 => Record::Failed { key, variant: Some(variant), class: shotlist::run::journal::FailClass::Gone, message: String::new(), at: "x".into() },
                2 => Record::InDoubt { key, attempt: 0, message: String::new(), at: "x".into() },
                _ => Record::NotAccepted { key, attempt: 9, class: shotlist::run::journal::FailClass::Transient, message: String::new(), retryable: i % 2 == 0, at: "x".into() },
            });
        }
        let _ = shotlist::run::state::RunState::replay(&records);
    }
}
