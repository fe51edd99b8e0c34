mod common;

use common::*;
use rein_telemetry::*;
use serde_json::json;

#[test]
fn each_event_kind_round_trips_and_joins() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let p = prediction("fraud", 1_000);
    let mut p2 = prediction("fraud", 1_001);
    p2.unit = None;
    p2.variant = "canary".into();
    p2.experiment = Some("rollout-7".into());
    p2.shadow_of = Some(p.id.clone());
    p2.fallback = Some("the model timed out after 50 ms".into());
    p2.latency_us = u64::MAX;
    let f1 = feedback(&p.id, FeedbackKind::Incorrect, Some("legit"), Some("k1"));
    let mut f2 = feedback(&p.id, FeedbackKind::Label, None, None);
    f2.value = Some(3.25);
    f2.source = FeedbackSource::System;
    f2.comment = None;
    f2.time_ms = f1.time_ms + 1;
    let o1 = OutcomeEvent {
        id: new_event_id(),
        time_ms: 2_000,
        unit: Some("user-1".into()),
        prediction_id: Some(p.id.clone()),
        name: "left_page".into(),
        value: None,
    };
    let o2 = OutcomeEvent {
        id: new_event_id(),
        time_ms: 2_001,
        unit: None,
        prediction_id: None,
        name: "purchase".into(),
        value: Some(9.5),
    };
    let report = store
        .write_batch(
            &[p.clone().into(), p2.clone().into(), f1.clone().into(), f2.clone().into(), o1.clone().into(), o2.into()],
            None,
        )
        .unwrap();
    assert_eq!(report, WriteReport { predictions: 2, feedback: 2, outcomes: 2, ..Default::default() });

    let rec = store.prediction(&p.id).unwrap().unwrap();
    assert_eq!(rec.prediction, p);
    assert_eq!(rec.feedback, vec![f1, f2]);
    assert_eq!(rec.outcomes, vec![o1]);
    let rec2 = store.prediction(&p2.id).unwrap().unwrap();
    assert_eq!(rec2.prediction.latency_us, i64::MAX as u64, "latency saturates at i64::MAX");
    assert_eq!(rec2.prediction.variant, "canary");
    assert!(rec2.feedback.is_empty() && rec2.outcomes.is_empty());
    assert!(store.prediction("nope").unwrap().is_none());
    assert!(store.prediction_exists(&p.id).unwrap());
    assert!(!store.prediction_exists("nope").unwrap());
    assert_eq!(store.counts().unwrap(), Counts { predictions: 2, feedback: 2, outcomes: 2 });
}

#[test]
fn feedback_idempotency_key_and_replayed_events_are_no_ops() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let p = prediction("fraud", 5);
    let f = feedback(&p.id, FeedbackKind::Correct, None, Some("client-key-1"));
    let mut again = f.clone();
    again.id = new_event_id();
    again.comment = Some("second try".into());
    let r = store.write_batch(&[p.clone().into(), f.clone().into(), again.into()], None).unwrap();
    assert_eq!((r.predictions, r.feedback, r.duplicates), (1, 1, 1));
    // the feedback that lost its key is named, so its waiter is not told it was written
    assert_eq!(r.key_conflicts, vec![2]);
    let r = store.write_batch(&[p.clone().into(), f.clone().into()], None).unwrap();
    assert_eq!((r.predictions, r.feedback, r.duplicates), (0, 0, 2));
    assert_eq!(r.key_conflicts, vec![1], "a replayed prediction is not a key conflict");
    assert_eq!(store.feedback_by_key("client-key-1").unwrap(), Some(f));
    assert_eq!(store.feedback_by_key("other").unwrap(), None);
    // Feedback without a key: two reports are two rows, even when they say the same;
    // one event replayed (from the journal or the spill file) is one row.
    let k = feedback(&p.id, FeedbackKind::Correct, None, None);
    let same_words = FeedbackEvent { id: new_event_id(), ..k.clone() };
    let r = store.write_batch(&[k.clone().into(), same_words.into(), k.into()], None).unwrap();
    assert_eq!((r.feedback, r.duplicates), (2, 1));
    assert!(r.key_conflicts.is_empty(), "a replay is no key conflict");
    assert_eq!(store.counts().unwrap().feedback, 3);
    // the same for outcomes
    let o =
        OutcomeEvent { id: new_event_id(), time_ms: 7, unit: None, prediction_id: None, name: "x".into(), value: None };
    let r = store.write_batch(&[o.clone().into(), o.into()], None).unwrap();
    assert_eq!((r.outcomes, r.duplicates), (1, 1));
}

fn all_pages(store: &SqliteStore, mut q: ScanQuery) -> (Vec<PredictionEvent>, usize) {
    let mut out = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.scan(&q).unwrap();
        pages += 1;
        assert!(page.items.len() <= q.effective_limit());
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return (out, pages),
        }
    }
}

#[test]
fn pagination_returns_every_row_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut events = Vec::new();
    let mut expected = Vec::new();
    // Many rows share a time_ms: the id breaks ties.
    for i in 0..257 {
        let mut p = prediction(if i % 3 == 0 { "other" } else { "fraud" }, 1_000 + i / 10);
        p.id = format!("id-{:04}", (i * 7919) % 1000);
        if p.component == "fraud" && (1_003..1_020).contains(&p.time_ms) {
            expected.push((p.time_ms, p.id.clone()));
        }
        events.push(Event::from(p));
    }
    store.write_batch(&events, None).unwrap();
    expected.sort();

    let q = ScanQuery {
        component: Some("fraud".into()),
        since_ms: Some(1_003),
        until_ms: Some(1_020),
        limit: 7,
        ..Default::default()
    };
    let (rows, pages) = all_pages(&store, q.clone());
    let got: Vec<_> = rows.iter().map(|p| (p.time_ms, p.id.clone())).collect();
    assert_eq!(got, expected);
    assert_eq!(pages, expected.len().div_ceil(7).max(1) + usize::from(expected.len() % 7 == 0));
    assert!(rows.iter().all(|p| p.component == "fraud"));

    let (rows, _) = all_pages(&store, ScanQuery { order: Order::Descending, ..q });
    let mut got: Vec<_> = rows.iter().map(|p| (p.time_ms, p.id.clone())).collect();
    got.reverse();
    assert_eq!(got, expected);

    // No component, no window: everything.
    let (rows, _) = all_pages(&store, ScanQuery { limit: 50, ..Default::default() });
    assert_eq!(rows.len(), 257);
    assert!(rows.windows(2).all(|w| (w[0].time_ms, &w[0].id) < (w[1].time_ms, &w[1].id)));

    let bad = store.scan(&ScanQuery { cursor: Some("garbage".into()), ..Default::default() });
    assert!(matches!(bad, Err(StoreError::InvalidCursor(_))));
}

#[test]
fn migrations_are_versioned_and_a_newer_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), rein_telemetry::sqlite::SCHEMA_VERSION);
    store.write_batch(&[prediction("c", 1).into()], None).unwrap();
    drop(store);
    // Opening again applies nothing and keeps the data.
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.counts().unwrap().predictions, 1);
    drop(store);

    let conn = rusqlite_conn(&dir.path().join("rein.db"));
    conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)", []).unwrap();
    drop(conn);
    let err = SqliteStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::SchemaTooNew { found: 999, .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("rein.db") && msg.contains("999") && msg.contains("newer"), "{msg}");
}

/// A window holds what was answered: a shadow's prediction, recorded beside the one it
/// copies, is listed but never counted in a window (goals, quality, drift, experiments).
#[test]
fn windows_leave_out_shadow_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let answered = prediction("c", 10);
    let mut shadow = prediction("c", 11);
    shadow.variant = "shadow".into();
    shadow.shadow_of = Some(answered.id.clone());
    store.write_batch(&[answered.clone().into(), shadow.into()], None).unwrap();
    let mut seen = Vec::new();
    let query = WindowQuery { since_ms: Some(0), until_ms: Some(100), ..Default::default() };
    let visited = store
        .visit_predictions(&query, &mut |r| {
            seen.push(r.prediction.id);
            Ok(())
        })
        .unwrap();
    assert_eq!((visited, seen), (1, vec![answered.id]));
    assert_eq!(store.counts().unwrap().predictions, 2, "both are kept");
}

/// Each shadow prediction of the range comes beside the prediction it copies, of the
/// component and experiment asked, oldest first; one whose original is gone comes alone.
#[test]
fn shadow_pairs_join_each_shadow_to_the_prediction_it_copies() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let shadow_of = |answered: &PredictionEvent, experiment: &str| {
        let mut s = prediction(&answered.component, answered.time_ms);
        s.variant = "shadow".into();
        s.model_version = "4".into();
        s.experiment = Some(experiment.into());
        s.shadow_of = Some(answered.id.clone());
        s
    };
    let a1 = prediction("c", 10);
    let a2 = prediction("c", 20);
    let other = prediction("d", 15);
    let late = prediction("c", 100);
    let s2 = shadow_of(&a2, "e1");
    let s1 = shadow_of(&a1, "e1");
    let mut orphan = shadow_of(&a1, "e1");
    orphan.time_ms = 30;
    orphan.shadow_of = Some("gone".into());
    let in_e2 = shadow_of(&a1, "e2");
    let events: Vec<Event> = [&a1, &a2, &other, &late, &s2, &s1, &orphan, &in_e2, &shadow_of(&other, "e1")]
        .into_iter()
        .chain([&shadow_of(&late, "e1")])
        .map(|p| p.clone().into())
        .collect();
    store.write_batch(&events, None).unwrap();
    let visit = |experiment: Option<&str>| {
        let query = ShadowQuery {
            component: "c".into(),
            since_ms: Some(0),
            until_ms: Some(100),
            experiment: experiment.map(Into::into),
        };
        let mut seen = Vec::new();
        let n = store
            .visit_shadow_pairs(&query, &mut |pair| {
                seen.push((pair.shadow.id, pair.answered.map(|a| a.id)));
                Ok(())
            })
            .unwrap();
        assert_eq!(n as usize, seen.len());
        seen
    };
    let mut first = vec![(s1.id.clone(), Some(a1.id.clone())), (in_e2.id.clone(), Some(a1.id.clone()))];
    first.sort();
    let mut e1 = visit(Some("e1"));
    assert_eq!(e1.len(), 3, "{e1:?}");
    let tail = e1.split_off(1);
    assert_eq!(e1, vec![(s1.id.clone(), Some(a1.id.clone()))]);
    assert_eq!(tail, vec![(s2.id.clone(), Some(a2.id.clone())), (orphan.id.clone(), None)]);
    let mut all = visit(None);
    assert_eq!(all.len(), 4, "both experiments, neither the other component's nor one past the range");
    let mut head: Vec<_> = all.drain(..2).collect();
    head.sort();
    assert_eq!(head, first, "the two of time 10");
}

/// Rows stored before events had ids (schema version 1) read with an id made of their
/// row number, so every feedback and outcome a reader sees has one.
#[test]
fn feedback_and_outcomes_from_before_event_ids_read_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let p = prediction("c", 1);
    store.write_batch(&[p.clone().into()], None).unwrap();
    let conn = rusqlite_conn(&dir.path().join("rein.db"));
    conn.execute(
        "INSERT INTO feedback (prediction_id, time_ms, kind, source) VALUES (?1, 2, 'correct', 'user')",
        [&p.id],
    )
    .unwrap();
    conn.execute("INSERT INTO outcomes (time_ms, prediction_id, name) VALUES (3, ?1, 'left_page')", [&p.id]).unwrap();
    drop(conn);
    let record = store.prediction(&p.id).unwrap().unwrap();
    assert_eq!(record.feedback[0].id, "seq-1");
    assert_eq!(record.outcomes[0].id, "seq-1");
}

#[test]
fn a_new_store_takes_16_kib_pages_and_an_older_one_keeps_its_own() {
    let page_size = |dir: &std::path::Path| -> i64 {
        rusqlite_conn(&dir.join("rein.db")).query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap()
    };
    let new = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(new.path()).unwrap();
    store.write_batch(&[prediction("c", 1).into()], None).unwrap();
    drop(store);
    assert_eq!(page_size(new.path()), 16 * 1024);

    // a store made with SQLite's default pages, as rein made them before
    let old = tempfile::tempdir().unwrap();
    let conn = rusqlite_conn(&old.path().join("rein.db"));
    conn.execute_batch("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE keep (x INTEGER)").unwrap();
    drop(conn);
    let store = SqliteStore::open(old.path()).unwrap();
    let p = prediction("c", 2);
    store.write_batch(&[p.clone().into()], None).unwrap();
    assert_eq!(store.prediction(&p.id).unwrap().unwrap().prediction.id, p.id);
    drop(store);
    assert_eq!(page_size(old.path()), 4096);
}

fn rusqlite_conn(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[test]
fn full_disk_and_bad_path_errors_name_the_path_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SqliteOptions { max_db_bytes: Some(256 * 1024), ..Default::default() };
    let store = SqliteStore::open_with(dir.path(), opts).unwrap();
    let mut err = None;
    for _ in 0..200 {
        let batch: Vec<Event> = (0..50)
            .map(|i| {
                let mut p = prediction("c", i);
                p.features = json!({"blob": "x".repeat(500)}).into();
                p.into()
            })
            .collect();
        if let Err(e) = store.write_batch(&batch, None) {
            err = Some(e);
            break;
        }
    }
    let msg = err.expect("the quota is reached").to_string();
    assert!(msg.contains(&dir.path().join("rein.db").display().to_string()), "{msg}");
    assert!(msg.contains("full"), "{msg}");

    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let msg = SqliteStore::open(&file).unwrap_err().to_string();
    assert!(msg.contains("a-file") && msg.contains("create data directory"), "{msg}");
}

#[test]
fn prune_deletes_old_rows_per_kind() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let day = 86_400_000i64;
    let now = 100 * day;
    let mut events = Vec::new();
    for i in 0..12_000i64 {
        // half older than 30 days
        let t = if i % 2 == 0 { now - 40 * day + i } else { now - day + i };
        events.push(Event::from(prediction("c", t)));
    }
    let p = prediction("c", now - 40 * day);
    let mut f = feedback(&p.id, FeedbackKind::Correct, None, None);
    f.time_ms = now - 40 * day;
    events.push(f.into());
    events.push(
        OutcomeEvent {
            id: new_event_id(),
            time_ms: now - 2 * day,
            unit: None,
            prediction_id: None,
            name: "x".into(),
            value: None,
        }
        .into(),
    );
    store.write_batch(&events, None).unwrap();
    let r = prune_once(
        store.as_ref(),
        &Retention { predictions_days: Some(30), feedback_days: Some(90), outcomes_days: Some(1), max_bytes: None },
        now,
    )
    .unwrap();
    assert_eq!(r, PruneReport { predictions: 6_000, feedback: 0, outcomes: 1 });
    assert_eq!(store.counts().unwrap(), Counts { predictions: 6_000, feedback: 1, outcomes: 0 });
}

/// Past its size bound, a store loses its oldest events first, predictions with the
/// feedback and outcomes as old as they are, and keeps the newest.
#[test]
fn a_store_past_its_size_loses_its_oldest_events_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut oldest = None;
    let mut newest = None;
    for batch in 0..10i64 {
        let mut events = Vec::new();
        for i in 0..500i64 {
            let mut p = prediction("c", 1_000_000 + batch * 500 + i);
            p.features = json!({"blob": "x".repeat(400)}).into();
            if batch == 0 && i == 0 {
                oldest = Some(p.id.clone());
                let mut f = feedback(&p.id, FeedbackKind::Correct, None, None);
                f.time_ms = p.time_ms;
                events.push(f.into());
            }
            newest = Some(p.id.clone());
            events.push(p.into());
        }
        store.write_batch(&events, None).unwrap();
    }
    let full = store.used_bytes().unwrap();
    let bound = full / 2;
    let report = prune_once(store.as_ref(), &Retention { max_bytes: Some(bound), ..Default::default() }, 0).unwrap();
    assert!(
        store.used_bytes().unwrap() <= bound,
        "{} bytes left of {full}, bound {bound}",
        store.used_bytes().unwrap()
    );
    assert!((2_000..5_000).contains(&report.predictions), "about half the predictions go: {report:?}");
    assert!(store.prediction(&oldest.unwrap()).unwrap().is_none(), "the oldest went");
    assert!(store.prediction(&newest.unwrap()).unwrap().is_some(), "the newest stayed");
    assert_eq!(store.counts().unwrap().predictions, 5_000 - report.predictions);
    assert_eq!((report.feedback, store.counts().unwrap().feedback), (1, 0), "its feedback, as old, went too");
    // within the bound, nothing more goes
    let again = prune_once(store.as_ref(), &Retention { max_bytes: Some(bound), ..Default::default() }, 0).unwrap();
    assert_eq!(again, PruneReport::default());
}

/// SQLite checkpoints the WAL after the loader's commits: it is copied into the database
/// and its file stays bounded however much is written.
#[test]
fn the_wal_is_checkpointed_by_the_writes_and_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let db = store.path().to_path_buf();
    let wal = db.with_file_name("rein.db-wal");
    for batch in 0..60 {
        let events: Vec<Event> = (0..500).map(|i| prediction("fraud", batch * 500 + i).into()).collect();
        store.write_batch(&events, None).unwrap();
    }
    // about 24 MB written: what is past the WAL's checkpoint size is in the database file
    let (db_len, wal_len) = (std::fs::metadata(&db).unwrap().len(), std::fs::metadata(&wal).unwrap().len());
    assert!(db_len > 4 << 20, "checkpoints copied events into the database: {db_len} bytes");
    assert!(wal_len <= 64 << 20, "the WAL stays within its limit: {wal_len} bytes");
    assert_eq!(store.counts().unwrap().predictions, 30_000);
}

/// The log position is written with the events, in their transaction, and never goes back.
#[test]
fn the_log_position_is_stored_with_the_events_and_never_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.log_positions().unwrap(), [], "no log was ever loaded");
    let at = |stream, offset| LogPosition { stream, offset };
    let p = prediction("c", 1);
    store.write_batch(&[p.clone().into()], Some(at(1, 420))).unwrap();
    store.write_batch(&[], Some(at(0, 7))).unwrap();
    assert_eq!(store.log_positions().unwrap(), [at(0, 7), at(1, 420)], "a position a stream");
    store.write_batch(&[], Some(at(1, 100))).unwrap();
    assert_eq!(store.log_positions().unwrap()[1], at(1, 420), "a stale loader cannot move it back");
    drop(store);
    let reopened = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(reopened.log_positions().unwrap(), [at(0, 7), at(1, 420)]);
    assert!(reopened.prediction_exists(&p.id).unwrap());
}

/// What goals read of outcomes by their own time: the values of one name summarised, and
/// the units one names, each once; and the newest prediction's time.
#[test]
fn outcomes_of_a_name_are_summarised_and_their_units_listed_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert_eq!(store.newest_prediction_ms().unwrap(), None);
    let outcome = |time_ms: i64, unit: Option<&str>, name: &str, value: Option<f64>| -> Event {
        OutcomeEvent {
            id: new_event_id(),
            time_ms,
            unit: unit.map(str::to_string),
            prediction_id: None,
            name: name.into(),
            value,
        }
        .into()
    };
    let events = vec![
        prediction("fraud", 700).into(),
        prediction("fraud", 1_500).into(),
        outcome(999, Some("a"), "purchase", Some(100.0)), // before the range
        outcome(1_000, Some("a"), "purchase", Some(2.0)),
        outcome(1_001, Some("b"), "purchase", Some(4.0)),
        outcome(1_002, Some("a"), "purchase", Some(9.0)),
        outcome(1_003, None, "purchase", None),
        outcome(1_004, Some("c"), "refund", Some(7.0)),   // another name
        outcome(2_000, Some("d"), "purchase", Some(1.0)), // at the exclusive end
    ];
    store.write_batch(&events, None).unwrap();
    assert_eq!(store.newest_prediction_ms().unwrap(), Some(1_500));

    let query = OutcomeQuery { name: "purchase".into(), since_ms: 1_000, until_ms: 2_000 };
    let summary = store.outcome_values(&query).unwrap();
    assert_eq!((summary.events, summary.valued, summary.sum, summary.mean), (4, 3, 15.0, 5.0));
    assert_eq!(summary.sum_squared_deviations, 9.0 + 1.0 + 16.0);
    let none = store.outcome_values(&OutcomeQuery { name: "nothing".into(), ..query.clone() }).unwrap();
    assert_eq!(none, ValueSummary::default());

    let mut units = Vec::new();
    let n = store
        .visit_outcome_units(&query, &mut |u| {
            units.push(u);
            Ok(())
        })
        .unwrap();
    units.sort();
    assert_eq!((n, units), (2, vec!["a".to_string(), "b".to_string()]));
    let stopped = store.visit_outcome_units(&query, &mut |_| Err(StoreError::Unavailable("enough".into())));
    assert!(matches!(stopped, Err(StoreError::Unavailable(_))));
}

/// Alerts and monitors' states: stored together, listed by state, time and monitor, the
/// newest first; a new version of an alert replaces the old; both survive a reopen.
#[test]
fn alerts_and_monitor_states_are_stored_listed_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let alert = |id: &str, monitor: &str, opened_ms: i64, closed_ms: Option<i64>| AlertRecord {
        id: id.into(),
        monitor: monitor.into(),
        severity: "warning".into(),
        opened_ms,
        closed_ms,
        body: json!({"id": id, "closed_ms": closed_ms}).into(),
    };
    let state = |monitor: &str, until: i64| MonitorStateRecord {
        monitor: monitor.into(),
        state: json!({"evaluated_until_ms": until}).into(),
        updated_ms: 5,
    };
    assert!(store.alerts(&AlertQuery::default()).unwrap().is_empty());
    assert!(store.monitor_states().unwrap().is_empty());
    store
        .record_monitoring(
            &[state("drift", 100), state("rate", 200)],
            &[alert("a1", "drift", 100, None), alert("a2", "rate", 200, Some(400)), alert("a3", "drift", 50, Some(60))],
        )
        .unwrap();
    let ids = |q: AlertQuery| -> Vec<String> { store.alerts(&q).unwrap().into_iter().map(|a| a.id).collect() };
    assert_eq!(ids(AlertQuery::default()), ["a2", "a1", "a3"], "the newest opened first");
    assert_eq!(ids(AlertQuery { open: Some(true), ..Default::default() }), ["a1"]);
    assert_eq!(ids(AlertQuery { open: Some(false), ..Default::default() }), ["a2", "a3"]);
    // open at some moment since 300: a1 (still open) and a2 (closed at 400)
    assert_eq!(ids(AlertQuery { since_ms: Some(300), ..Default::default() }), ["a2", "a1"]);
    assert_eq!(ids(AlertQuery { monitor: Some("drift".into()), ..Default::default() }), ["a1", "a3"]);
    assert_eq!(ids(AlertQuery { limit: 1, ..Default::default() }), ["a2"]);

    // a1 closes: the new version replaces the old, beside the monitor's new state
    store.record_monitoring(&[state("drift", 300)], &[alert("a1", "drift", 100, Some(300))]).unwrap();
    drop(store);
    let store = open(dir.path());
    let a1 = store.alerts(&AlertQuery { monitor: Some("drift".into()), ..Default::default() }).unwrap();
    assert_eq!(a1[0].closed_ms, Some(300));
    assert_eq!(a1[0].body.to_value(), json!({"id": "a1", "closed_ms": 300}));
    assert!(store.alerts(&AlertQuery { open: Some(true), ..Default::default() }).unwrap().is_empty());
    let states: Vec<(String, serde_json::Value)> =
        store.monitor_states().unwrap().into_iter().map(|s| (s.monitor, s.state.to_value())).collect();
    assert_eq!(
        states,
        [
            ("drift".to_string(), json!({"evaluated_until_ms": 300})),
            ("rate".to_string(), json!({"evaluated_until_ms": 200}))
        ]
    );
}
