//! Shared state on PostgreSQL (`--state`): a campaign completes, several runners on
//! one campaign and one account keep the account's pace and bill each job once, and
//! a database that cannot be used at start is a clear exit 2 that never shows the
//! password.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use shotlist::catalog::Provider;
use shotlist::run::journal::Record;
use shotlist::sim::SimConfig;

use crate::util::*;

/// A campaign name no other test uses (they share one database).
fn unique(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4().simple())
}

fn config(time_scale: f64) -> SimConfig {
    SimConfig {
        time_scale,
        render: shotlist::sim::RenderTime { min_secs: 5.0, max_secs: 10.0 },
        ..SimConfig::default()
    }
}

async fn query_one(url: &str, sql: &str, campaign: &str) -> tokio_postgres::Row {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("test database");
    tokio::spawn(conn);
    client.query_one(sql, &[&campaign]).await.expect("query")
}

/// What the campaign's records and the simulator's ledger say: jobs paid more than
/// once, and plan jobs with no clip paid.
fn billed_once(night: &Night, records: &[Record]) -> (usize, BTreeMap<String, usize>) {
    let mut task_job: BTreeMap<String, String> = BTreeMap::new();
    for r in records {
        match r {
            Record::Intent { key, task_uuid, .. } => {
                task_job.insert(task_uuid.to_string(), key.clone());
            }
            Record::Accepted { key, task, .. } => {
                task_job.insert(task.id.clone(), key.clone());
            }
            _ => {}
        }
    }
    let mut paid: BTreeMap<String, usize> = BTreeMap::new();
    for e in night.sim.ledger().entries.iter().filter(|e| e.clips_billed > 0) {
        let job = task_job.get(&e.task_id).unwrap_or_else(|| panic!("a billed task no record explains: {e:?}"));
        *paid.entry(job.clone()).or_default() += 1;
    }
    (paid.values().filter(|n| **n > 1).count(), paid)
}

/// Every downloaded clip is on disk, with its hash, in one of the runners' folders.
fn downloads_on_disk(night: &Night, records: &[Record], outs: &[&str]) -> usize {
    let mut n = 0;
    for r in records {
        if let Record::Downloaded { file, sha256, .. } = r {
            let found = outs.iter().any(|o| {
                shotlist::run::download::sha256_of(&night.out(o).join(file)).ok().as_deref() == Some(sha256.as_str())
            });
            assert!(found, "{file} is in none of {outs:?}");
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread")]
async fn a_campaign_on_postgres_completes_against_the_simulator() {
    let Some(url) = test_database_url() else { return };
    let night = Night::start(config(0.02)).await;
    let name = unique("pg-one");
    night.write("m.yaml", &mixed_manifest(6, 3, 2).replace("name: night\n", &format!("name: {name}\n")));
    let out = night.run(&["run", "m.yaml", "--out", "out", "--time-scale", "0.02", "-q", "--state", &url]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!night.out("out").join("state.jsonl").exists(), "the state is in the database, not the folder");
    let read = tokio::task::block_in_place(|| shotlist::run::store::pg::read_only(&url, &name)).unwrap();
    let (double, paid) = billed_once(&night, &read.records);
    assert_eq!(double, 0);
    assert_eq!(paid.len(), 11, "every job billed: {paid:?}");
    assert_eq!(downloads_on_disk(&night, &read.records, &["out"]), 6 + 2 + 3 + 2);
    // status reads the campaign from the database, from any folder, and names the machine.
    let status = night.run(&["status", "m.yaml", "--out", "elsewhere", "--json", "--state", &url]).await;
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!(doc["status"]["done"], 13, "{doc}");
    let machines = doc["machines"].as_array().unwrap();
    assert_eq!(machines.len(), 1, "{doc}");
    assert_eq!(machines[0]["downloaded"], 13);
    assert!(machines[0]["machine"].as_str().unwrap().ends_with("/out"), "{doc}");
    // What each job committed is stored with its records: the sum is what was billed.
    let spend = "SELECT coalesce(sum(committed_usd), 0)::float8 FROM shotlist_spend WHERE campaign = $1";
    let billed = night.sim.ledger().total_usd;
    let stored: f64 = query_one(&url, spend, &name).await.get(0);
    assert!((stored - billed).abs() < 1e-6, "{stored} stored, {billed} billed");
    // As a campaign begun before the database kept it: a runner opening it fills it in.
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.execute("DELETE FROM shotlist_spend WHERE campaign = $1", &[&name]).await.unwrap();
    // A second run finds everything done and submits nothing.
    let submits = night.sim.stats().providers.values().map(|s| s.submits).sum::<u64>();
    let again = night.run(&["run", "m.yaml", "--out", "out", "--time-scale", "0.02", "-q", "--state", &url]).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(night.sim.stats().providers.values().map(|s| s.submits).sum::<u64>(), submits);
    let stored: f64 = query_one(&url, spend, &name).await.get(0);
    assert!((stored - billed).abs() < 1e-6, "{stored} stored again, {billed} billed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_state_database_that_cannot_be_used_is_exit_2_and_never_shows_the_password() {
    let Some(url) = test_database_url() else { return };
    let night = Night::start(config(0.02)).await;
    night.write("m.yaml", &mixed_manifest(1, 0, 0).replace("name: night\n", &format!("name: {}\n", unique("pg-bad"))));
    let secret = "pw-NEVER-shown-3f9";
    let run = |state: String| {
        let night = &night;
        async move { night.run(&["run", "m.yaml", "--out", "out", "-q", "--state", &state]).await }
    };
    // Nothing listens on port 1.
    let mut said = Vec::new();
    let out = run(format!("postgres://shotlist:{secret}@127.0.0.1:1/shotlist")).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot reach the state database at postgres://shotlist:***@127.0.0.1:1/shotlist"));
    said.push(stderr(&out) + &stdout(&out));
    // The right server, the wrong password.
    let mut wrong = url::Url::parse(&url).unwrap();
    wrong.set_password(Some(secret)).unwrap();
    let out = run(wrong.to_string()).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("refused the login"), "{}", stderr(&out));
    said.push(stderr(&out) + &stdout(&out));
    // A schema from a newer shotlist (in a database of its own).
    let db = format!("newer_{}", uuid::Uuid::new_v4().simple());
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
    let mut newer = url::Url::parse(&url).unwrap();
    newer.set_path(&db);
    let (c2, conn2) = tokio_postgres::connect(newer.as_str(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn2);
    c2.batch_execute("CREATE TABLE shotlist_schema (id integer PRIMARY KEY, version integer NOT NULL); INSERT INTO shotlist_schema VALUES (1, 99)").await.unwrap();
    let out = run(newer.to_string()).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("schema version 99"), "{}", stderr(&out));
    said.push(stderr(&out) + &stdout(&out));
    let password = url::Url::parse(&url).unwrap().password().unwrap_or_default().to_owned();
    for text in &said {
        assert!(!text.contains(secret), "{text}");
        assert!(password.is_empty() || !text.contains(&password), "{text}");
    }
    assert_eq!(night.sim.stats().providers.values().map(|s| s.submits).sum::<u64>(), 0, "nothing was submitted");
    drop(c2);
    let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn three_runners_on_one_campaign_keep_the_account_pace_and_bill_each_job_once() {
    let Some(url) = test_database_url() else { return };
    // The account allows 60 submits a (simulated) minute; a minute lasts 9 s here, so
    // the 45 intents span about 7 s: long enough that a loaded machine's scheduling
    // hiccups (tenths of a second) do not read as a slow pace.
    let scale = 0.15;
    let mut cfg = config(scale);
    cfg.provider_mut(Provider::Runware).requests_per_minute = Some(60);
    let night = Night::start(cfg).await;
    let name = unique("pg-three");
    let jobs = 45;
    let manifest = mixed_manifest(jobs, 0, 0).replace(
        "name: night\n",
        // The account allows 90 in flight (every runner's claimed jobs count): its pace binds, not that.
        &format!("name: {name}\nproviders:\n  runware: {{ requestsPerMinute: 60, maxInFlight: 90 }}\n"),
    );
    night.write("m.yaml", &manifest);
    let outs = ["a", "b", "c"];
    let children: Vec<_> = outs
        .iter()
        .map(|o| {
            night
                .command(&["run", "m.yaml", "--out", o, "--time-scale", "0.15", "-q", "--state", &url])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let (code, err) = wait_bounded(child, Duration::from_secs(120)).await;
        assert!(matches!(code, Some(0)), "{code:?}: {err}");
    }
    let read = tokio::task::block_in_place(|| shotlist::run::store::pg::read_only(&url, &name)).unwrap();
    let (double, paid) = billed_once(&night, &read.records);
    assert_eq!(double, 0, "each job billed once");
    assert_eq!(paid.len(), jobs, "every job billed");
    let clips = jobs + jobs.div_ceil(3);
    assert_eq!(downloads_on_disk(&night, &read.records, &outs), clips, "every clip on disk, once");
    let machines: BTreeSet<&String> = read.downloaded_by.values().collect();
    let stats = night.sim.stats().providers["runware"].clone();
    assert!(
        stats.rate_limited * 100 <= stats.submits,
        "{} rate limited of {} submits",
        stats.rate_limited,
        stats.submits
    );
    let row = query_one(
        &url,
        "SELECT count(*), extract(epoch FROM max(at) - min(at))::float8 FROM shotlist_intents WHERE campaign = $1",
        &name,
    )
    .await;
    let (n, span): (i64, f64) = (row.get(0), row.get(1));
    let limit_per_sec = 60.0 / (60.0 * scale);
    let pace = (n - 1) as f64 / span / limit_per_sec;
    eprintln!(
        "three runners: {n} intents in {span:.2} s = {pace:.3} of the limit; {} submits, {} rate limited; clips by machine: {}",
        stats.submits,
        stats.rate_limited,
        machines.len()
    );
    // Over the limit is the simulator's to say (rate-limited answers, above); intent
    // times are written a little after their tokens, so they can bunch.
    assert!(pace >= 0.9, "combined pace {pace:.3} of the limit");
    // The report, rebuilt on any machine, names for each clip the machine whose --out holds it.
    let report = night.run(&["report", "m.yaml", "--out", "a", "--state", &url]).await;
    assert_eq!(report.status.code(), Some(0), "{}", stderr(&report));
    let rows = read_report(&night.out("a").join("report.csv"));
    assert_eq!(rows.len(), clips);
    let mut named = BTreeSet::new();
    for r in &rows {
        assert_eq!(r["status"], "done", "{r:?}");
        assert_clip_in_machines_folder(r);
        named.insert(r["machine"].clone());
    }
    assert_eq!(named, machines.iter().map(|m| (*m).clone()).collect::<BTreeSet<String>>());
    // So does the report each runner wrote, for every clip it saw done.
    for o in outs {
        for r in read_report(&night.out(o).join("report.csv")).iter().filter(|r| r["status"] == "done") {
            assert_clip_in_machines_folder(r);
        }
    }
}

/// A done row's `machine` (host and out folder) is where its `file` is.
fn assert_clip_in_machines_folder(r: &BTreeMap<String, String>) {
    let (_, folder) = r["machine"].split_once(':').unwrap_or_else(|| panic!("a machine is named: {r:?}"));
    let path = std::path::Path::new(folder).join(&r["file"]);
    assert_eq!(shotlist::run::download::sha256_of(&path).ok().as_deref(), Some(r["sha256"].as_str()), "{r:?}");
}

/// A loopback TCP relay to the database that can be cut: the database "lost".
struct Relay {
    port: u16,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Relay {
    async fn start(target: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> = Default::default();
        let inner = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                inner.lock().unwrap().push(conn.abort_handle());
            }
        });
        tasks.lock().unwrap().push(accept.abort_handle());
        Relay { port, tasks }
    }

    /// Cuts every connection and refuses new ones.
    fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

async fn intents(url: &str, campaign: &str) -> i64 {
    query_one(url, "SELECT count(*) FROM shotlist_intents WHERE campaign = $1", campaign).await.get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_lost_mid_night_halts_with_exit_3_and_the_same_command_resumes_cleanly() {
    let Some(url) = test_database_url() else { return };
    let scale = 0.05;
    let mut cfg = config(scale);
    cfg.provider_mut(Provider::Runware).requests_per_minute = Some(60);
    let night = Night::start(cfg).await;
    let name = unique("pg-lost");
    let jobs = 30;
    night.write(
        "m.yaml",
        &mixed_manifest(jobs, 0, 0).replace(
            "name: night\n",
            &format!("name: {name}\nproviders:\n  runware: {{ requestsPerMinute: 60, maxInFlight: 30 }}\n"),
        ),
    );
    let parsed = url::Url::parse(&url).unwrap();
    let relay = Relay::start(format!("127.0.0.1:{}", parsed.port().unwrap_or(5432))).await;
    let mut via = parsed.clone();
    via.set_port(Some(relay.port)).unwrap();
    let child = night
        .command(&["run", "m.yaml", "--out", "out", "--time-scale", "0.05", "-q", "--state", via.as_str()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while intents(&url, &name).await < 8 {
        assert!(std::time::Instant::now() < deadline, "no intents written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    relay.cut();
    let (code, err) = wait_bounded(child, Duration::from_secs(60)).await;
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("Halted"), "{err}");
    let password = parsed.password().unwrap_or_default();
    assert!(password.is_empty() || !err.contains(password), "the password is never shown: {err}");
    let written = intents(&url, &name).await;
    assert!(written < jobs as i64, "stopped submitting: {written} of {jobs}");
    // The database is back: the same command (here without the relay) finishes the night.
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", "0.05", "-q", "--state", &url];
    let out = night.run_to_the_end(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let read = tokio::task::block_in_place(|| shotlist::run::store::pg::read_only(&url, &name)).unwrap();
    let (double, paid) = billed_once(&night, &read.records);
    assert_eq!(double, 0, "each job billed once");
    assert_eq!(paid.len(), jobs, "every job billed");
    assert_eq!(downloads_on_disk(&night, &read.records, &["out"]), jobs + jobs.div_ceil(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_killed_mid_night_leaves_its_jobs_to_the_others_never_billed_twice() {
    let Some(url) = test_database_url() else { return };
    let scale = 0.05;
    let mut seed = 0x5eed_u64;
    // Bounded: 10 nights of 30 jobs, one of three runners SIGKILLed at a random moment in each.
    for round in 0..10 {
        let mut cfg = config(scale);
        cfg.provider_mut(Provider::Runware).requests_per_minute = Some(60);
        let night = Night::start(cfg).await;
        let name = unique("pg-kill");
        let jobs = 30;
        night.write(
            "m.yaml",
            &mixed_manifest(jobs, 0, 0).replace(
                "name: night\n",
                &format!("name: {name}\nproviders:\n  runware: {{ requestsPerMinute: 60, maxInFlight: 30 }}\n"),
            ),
        );
        let outs = ["a", "b", "c"];
        let mut children: Vec<_> = outs
            .iter()
            .map(|o| {
                night
                    .command(&["run", "m.yaml", "--out", o, "--time-scale", "0.05", "-q", "--state", &url])
                    .env("SHOTLIST_LEASE_SECS", "1")
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let after = 200 + (seed >> 33) % 1300;
        tokio::time::sleep(Duration::from_millis(after)).await;
        let mut victim = children.pop().unwrap();
        let killed = victim.try_wait().unwrap().is_none();
        let _ = victim.kill(); // SIGKILL
        let _ = victim.wait();
        for child in children {
            let (code, err) = wait_bounded(child, Duration::from_secs(120)).await;
            assert_eq!(code, Some(0), "round {round}: {err}");
        }
        let read = tokio::task::block_in_place(|| shotlist::run::store::pg::read_only(&url, &name)).unwrap();
        let (double, paid) = billed_once(&night, &read.records);
        assert_eq!(double, 0, "round {round}: each job billed once");
        assert_eq!(paid.len(), jobs, "round {round}: every job billed");
        let clips = downloads_on_disk(&night, &read.records, &outs);
        let state = shotlist::run::state::RunState::replay(&read.records);
        let done = state.jobs.values().filter(|j| j.phase == shotlist::run::state::Phase::Done).count();
        eprintln!("round {round}: killed after {after} ms (landed: {killed}); {clips} clips on disk, {done} jobs done");
        assert_eq!(done, jobs, "round {round}: no result lost");
        assert_eq!(clips, jobs + jobs.div_ceil(3), "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_campaigns_on_one_account_keep_its_pace_together() {
    let Some(url) = test_database_url() else { return };
    let scale = 0.05;
    let mut cfg = config(scale);
    cfg.provider_mut(Provider::Runware).requests_per_minute = Some(60);
    let night = Night::start(cfg).await;
    let jobs = 24;
    let names = [unique("pg-spring"), unique("pg-autumn")];
    for (i, name) in names.iter().enumerate() {
        // Distinct prompts: two campaigns, two sets of jobs.
        let m = mixed_manifest(jobs, 0, 0)
            .replace(
                "name: night\n",
                &format!("name: {name}\nproviders:\n  runware: {{ requestsPerMinute: 60, maxInFlight: 30 }}\n"),
            )
            .replace("runware shot", &format!("campaign {i} shot"));
        night.write(&format!("m{i}.yaml"), &m);
    }
    let children: Vec<_> = (0..2)
        .map(|i| {
            let (manifest, out) = (format!("m{i}.yaml"), format!("out{i}"));
            night
                .command(&["run", &manifest, "--out", &out, "--time-scale", "0.05", "-q", "--state", &url])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let (code, err) = wait_bounded(child, Duration::from_secs(120)).await;
        assert_eq!(code, Some(0), "{err}");
    }
    let stats = night.sim.stats().providers["runware"].clone();
    assert_eq!(stats.accepted, 2 * jobs as u64, "{stats:?}");
    assert!(
        stats.rate_limited * 100 <= stats.submits,
        "{} rate limited of {} submits",
        stats.rate_limited,
        stats.submits
    );
    eprintln!("two campaigns: {} submits, {} rate limited", stats.submits, stats.rate_limited);
}

#[tokio::test(flavor = "multi_thread")]
async fn three_runners_keep_the_account_in_flight_limit_together() {
    let Some(url) = test_database_url() else { return };
    let scale = 0.05;
    let night = Night::start(SimConfig {
        time_scale: scale,
        render: shotlist::sim::RenderTime { min_secs: 10.0, max_secs: 20.0 },
        ..SimConfig::default()
    })
    .await;
    let name = unique("pg-inflight");
    let jobs = 18;
    night.write(
        "m.yaml",
        &mixed_manifest(jobs, 0, 0).replace(
            "name: night\n",
            &format!("name: {name}\nproviders:\n  runware: {{ requestsPerMinute: 600, maxInFlight: 3 }}\n"),
        ),
    );
    let children: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|o| {
            night
                .command(&["run", "m.yaml", "--out", o, "--time-scale", "0.05", "-q", "--state", &url])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let waiters = tokio::spawn(async move {
        let mut results = Vec::new();
        for child in children {
            results.push(wait_bounded(child, Duration::from_secs(120)).await);
        }
        results
    });
    // The account's jobs in flight, sampled while the night runs: every runner's count.
    let mut most = 0i64;
    while !waiters.is_finished() {
        let n: i64 = client
            .query_one("SELECT count(*) FROM shotlist_claims WHERE campaign = $1 AND in_flight", &[&name])
            .await
            .unwrap()
            .get(0);
        most = most.max(n);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for (code, err) in waiters.await.unwrap() {
        assert_eq!(code, Some(0), "{err}");
    }
    let read = tokio::task::block_in_place(|| shotlist::run::store::pg::read_only(&url, &name)).unwrap();
    let (double, paid) = billed_once(&night, &read.records);
    assert_eq!((double, paid.len()), (0, jobs));
    eprintln!("in flight: at most {most} of the account's 3, over three runners");
    assert!(most >= 2, "the runners did work in parallel: {most}");
    assert!(most <= 3, "the account's in-flight limit holds over every runner: {most}");
}

#[tokio::test(flavor = "multi_thread")]
async fn three_runners_on_one_campaign_keep_one_budget_together() {
    let Some(url) = test_database_url() else { return };
    let scale = 0.05;
    let mut cfg = config(scale);
    // 20 submits a (simulated) minute, 0.15 s apart: every runner is up and admitting
    // jobs while the budget's first jobs are still waiting for their turn.
    cfg.provider_mut(Provider::Runware).requests_per_minute = Some(20);
    let night = Night::start(cfg).await;
    let name = unique("pg-budget");
    let jobs = 30;
    // hailuo-2.3 at 768p for 6 s is $0.28 a clip: $3.40 covers 12 single-clip jobs (40 %), not 13.
    let (price, budget) = (0.28f64, 3.40f64);
    let fits = (budget / price + 1e-9).floor() as usize;
    let mut m = format!(
        "version: 1\nname: {name}\nbudget: {{ maxCostUsd: {budget} }}\nproviders:\n  runware: {{ requestsPerMinute: 20, maxInFlight: 60 }}\nshots:\n"
    );
    for i in 0..jobs {
        m.push_str(&format!(
            "  - {{ id: b{i:03}, provider: runware, model: hailuo-2.3, prompt: \"budget shot {i}\" }}\n"
        ));
    }
    night.write("m.yaml", &m);
    let children: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|o| {
            night
                .command(&["run", "m.yaml", "--out", o, "--time-scale", "0.05", "-q", "--state", &url])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut codes = Vec::new();
    for child in children {
        let (code, err) = wait_bounded(child, Duration::from_secs(120)).await;
        codes.push(code);
        assert_eq!(code, Some(3), "a runner stops at the campaign's budget: {err}");
        assert!(err.contains("Budget reached"), "{err}");
    }
    let ledger = night.sim.ledger();
    let stats = night.sim.stats().providers["runware"].clone();
    let sent = intents(&url, &name).await;
    eprintln!(
        "one budget over three runners: ${:.2} billed of ${budget:.2}, {} tasks accepted, {sent} intents; exits {codes:?}",
        ledger.total_usd,
        ledger.entries.len()
    );
    assert!(ledger.total_usd <= budget + 1e-9, "billed ${:.2} over the ${budget:.2} budget", ledger.total_usd);
    assert!(stats.accepted as usize <= fits, "{} jobs accepted; the budget covers {fits}", stats.accepted);
    assert!(sent as usize <= fits, "{sent} intents written; the budget covers {fits}");
    // The budget is spent, not left idle: every job it covers is rendered.
    assert_eq!(ledger.entries.iter().filter(|e| e.clips_billed > 0).count(), fits, "{ledger:?}");
    // status on any machine shows the campaign's spend as the budget counts it.
    let status = night.run(&["status", "m.yaml", "--out", "elsewhere", "--json", "--state", &url]).await;
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&status)).unwrap();
    for field in ["committedUsd", "spentUsd"] {
        let usd = doc[field].as_f64().unwrap_or_else(|| panic!("{field}: {doc}"));
        assert!((usd - ledger.total_usd).abs() < 1e-6, "{field} {usd} is what was billed, {}", ledger.total_usd);
    }
    assert_eq!(doc["budgetUsd"].as_f64(), Some(budget));
    // A job refused for the budget was not sent: it holds none of the account's in-flight slots.
    let held: i64 =
        query_one(&url, "SELECT count(*) FROM shotlist_claims WHERE campaign = $1 AND in_flight", &name).await.get(0);
    assert_eq!(held, 0, "jobs left counted in flight");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_state_database_over_tls_is_verified_and_used() {
    let Some(url) = test_database_url() else { return };
    let ca = match std::env::var("SHOTLIST_TEST_DATABASE_CA") {
        Ok(ca) if !ca.trim().is_empty() => ca,
        _ => {
            assert!(std::env::var_os("CI").is_none(), "CI is set but SHOTLIST_TEST_DATABASE_CA is not");
            return;
        }
    };
    let night = Night::start(config(0.02)).await;
    night.write("m.yaml", &mixed_manifest(2, 0, 0).replace("name: night\n", &format!("name: {}\n", unique("pg-tls"))));
    // The cluster lets the role shotlist_tls in over TLS only (.ci/postgres.sh): a
    // database of its own, owned by it.
    let secret = format!("pw-tls-{}", uuid::Uuid::new_v4().simple());
    let db = format!("tls_{}", uuid::Uuid::new_v4().simple());
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE shotlist_tls; EXCEPTION WHEN duplicate_object THEN NULL; END $$; \
             ALTER ROLE shotlist_tls LOGIN PASSWORD '{secret}'"
        ))
        .await
        .unwrap();
    client.batch_execute(&format!("CREATE DATABASE {db} OWNER shotlist_tls")).await.unwrap();
    let mut base = url::Url::parse(&url).unwrap();
    base.set_username("shotlist_tls").unwrap();
    base.set_password(Some(&secret)).unwrap();
    base.set_path(&db);
    base.set_query(None);
    let with = |query: &str| {
        let mut u = base.clone();
        u.set_query(Some(query).filter(|q| !q.is_empty()));
        u.to_string()
    };
    let run = |state: String| {
        let night = &night;
        async move { night.run(&["run", "m.yaml", "--out", "out", "--time-scale", "0.02", "-q", "--state", &state]).await }
    };
    let mut said = Vec::new();
    // Without TLS this role is refused: so the night below spoke TLS.
    let out = run(with("")).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    said.push(stderr(&out) + &stdout(&out));
    // A certificate no trusted authority signed is refused (the system's trust store).
    let out = run(with("sslmode=require")).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("certificate"), "{}", stderr(&out));
    said.push(stderr(&out) + &stdout(&out));
    assert_eq!(night.sim.stats().providers.values().map(|s| s.submits).sum::<u64>(), 0, "nothing was submitted");
    // Verified against the cluster's CA: the night completes.
    let ca_query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("sslmode", "verify-full")
        .append_pair("sslrootcert", &ca)
        .finish();
    let out = run(with(&ca_query)).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    said.push(stderr(&out) + &stdout(&out));
    for text in &said {
        assert!(!text.contains(&secret), "{text}");
    }
    let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await;
}
