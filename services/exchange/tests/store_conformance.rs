//! The conformance suite every exchange store must pass, run against SQLite and PostgreSQL.

use std::sync::Arc;

use homeward_exchange::store::{
    self, DocWrite, ExchangeStore, Filter, Table, WriteBatch, WriteOutcome,
};
use homeward_kit::{
    StoreError,
    audit::AuditEntry,
    config::DatabaseConfig,
    db::Db,
    idempotency::{Replay, RequestKey},
    outbox::NewEvent,
};
use serde_json::{Value, json};

struct Fixture {
    store: Arc<ExchangeStore>,
    _dir: Option<tempfile::TempDir>,
}

async fn fixture(postgres: bool) -> Fixture {
    let (url, dir) = if postgres {
        (
            homeward_kit::db::testing::fresh_postgres_database("hw_exstore").await,
            None,
        )
    } else {
        let dir = tempfile::tempdir().unwrap();
        (
            format!("sqlite://{}", dir.path().join("x.db").display()),
            Some(dir),
        )
    };
    let db = Db::connect(
        &DatabaseConfig {
            url,
            ..DatabaseConfig::default()
        },
        &homeward_exchange::MIGRATIONS,
    )
    .await
    .expect("database");
    Fixture {
        store: store::for_db(db),
        _dir: dir,
    }
}

/// A record whose body names its own id, so lists can be checked by what they decode to.
fn doc(table: Table, id: &str, parent: &str, tag: &str, n: i64) -> DocWrite {
    DocWrite::new(table, id, parent, tag, &json!({ "id": id, "n": n }))
}

fn event(aggregate: &str) -> NewEvent {
    NewEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        event_type: "homeward.exchange.v1.Test".into(),
        aggregate_id: aggregate.into(),
        payload: prost_types::Any {
            type_url: "type.googleapis.com/homeward.exchange.v1.Test".into(),
            value: vec![1, 2, 3],
        },
        traceparent: String::new(),
        occurred_at_us: 1,
    }
}

fn audit(target: &str) -> AuditEntry {
    AuditEntry {
        actor: "tester".into(),
        action: "test".into(),
        target: target.into(),
        request_id: "r".into(),
        details: json!({}),
    }
}

fn batch(docs: Vec<DocWrite>) -> WriteBatch {
    WriteBatch {
        docs,
        ..WriteBatch::default()
    }
}

/// Rows in one of the kit's tables (`outbox`, `audit_log`), read past the store on purpose.
async fn rows(s: &ExchangeStore, table: &'static str) -> i64 {
    let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
    match s.db() {
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap(),
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap(),
    }
}

async fn record(s: &ExchangeStore, table: Table, id: &str) -> Option<(i64, Value)> {
    s.get(table, id)
        .await
        .unwrap()
        .map(|stored| (stored.version, stored.decode::<Value>().unwrap()))
}

fn ids(page: &[store::Stored]) -> Vec<String> {
    page.iter()
        .map(|stored| {
            stored.decode::<Value>().unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Every record matching `parent` and `tag`, read `limit` at a time.
async fn paged(
    s: &ExchangeStore,
    table: Table,
    parent: &str,
    tag: Option<&str>,
    limit: i64,
) -> Vec<String> {
    let mut listed = Vec::new();
    let mut after = 0;
    loop {
        let page = s
            .list(
                table,
                &Filter {
                    parent,
                    tag,
                    after,
                    limit,
                },
            )
            .await
            .unwrap();
        assert!(page.len() as i64 <= limit, "a page longer than its limit");
        assert!(
            page.windows(2).all(|w| w[0].seq < w[1].seq),
            "a page out of seq order"
        );
        let Some(last) = page.last() else {
            return listed;
        };
        assert!(last.seq > after, "a page that does not move forward");
        after = last.seq;
        listed.extend(ids(&page));
    }
}

async fn a_written_record_reads_back_and_an_update_names_the_version_it_replaces(
    s: &ExchangeStore,
) {
    let first = json!({ "name": "Istanbul 2024", "parties": ["UA", "RU"] });
    let written = s
        .write(&batch(vec![DocWrite::new(
            Table::Agreements,
            "ag-1",
            "",
            "draft",
            &first,
        )]))
        .await
        .unwrap();
    assert!(matches!(written, WriteOutcome::Applied));
    let stored = s.get(Table::Agreements, "ag-1").await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(stored.decode::<Value>().unwrap(), first);

    let second = json!({ "name": "Istanbul 2024", "parties": ["UA", "RU"], "signed": true });
    s.write(&batch(vec![
        DocWrite::new(Table::Agreements, "ag-1", "", "signed", &second).replacing(1),
    ]))
    .await
    .unwrap();
    let updated = s.get(Table::Agreements, "ag-1").await.unwrap().unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.decode::<Value>().unwrap(), second);
    // An update keeps the record's place in creation order and moves it to its new tag.
    assert_eq!(updated.seq, stored.seq);
    let signed = Filter {
        tag: Some("signed"),
        ..Filter::all_of("")
    };
    assert_eq!(listed(s, Table::Agreements, &signed).await.len(), 1);
    let drafts = Filter {
        tag: Some("draft"),
        ..Filter::all_of("")
    };
    assert!(listed(s, Table::Agreements, &drafts).await.is_empty());

    assert_eq!(s.get(Table::Agreements, "ag-2").await.unwrap(), None);
    // Tables are separate: the same id in another table is another record.
    assert_eq!(s.get(Table::Phases, "ag-1").await.unwrap(), None);
}

async fn listed(s: &ExchangeStore, table: Table, filter: &Filter<'_>) -> Vec<store::Stored> {
    s.list(table, filter).await.unwrap()
}

async fn a_stale_update_fails_with_conflict_and_writes_nothing_of_its_batch(s: &ExchangeStore) {
    s.write(&batch(vec![doc(Table::Agreements, "ag-1", "", "draft", 1)]))
        .await
        .unwrap();
    s.write(&batch(vec![
        doc(Table::Agreements, "ag-1", "", "signed", 2).replacing(1),
    ]))
    .await
    .unwrap();
    let (events, entries) = (rows(s, "outbox").await, rows(s, "audit_log").await);

    // The insert of ag-2 runs before the stale update of ag-1 fails, so only a rollback
    // keeps it out.
    let key = RequestKey::new("sign_agreement", "r-stale", b"body").unwrap();
    let mut stale = WriteBatch {
        key: Some(key.clone()),
        response: b"signed".to_vec(),
        docs: vec![
            doc(Table::Agreements, "ag-2", "", "draft", 1),
            doc(Table::Agreements, "ag-1", "", "signed", 3).replacing(1),
            doc(Table::Phases, "ph-1", "ag-2", "planned", 1).due(Some(1)),
        ],
        events: vec![event("ag-2")],
        audit: vec![audit("ag-2")],
    };
    assert!(matches!(s.write(&stale).await, Err(StoreError::Conflict)));
    assert_eq!(record(s, Table::Agreements, "ag-2").await, None);
    assert_eq!(record(s, Table::Phases, "ph-1").await, None);
    assert_eq!(
        record(s, Table::Agreements, "ag-1").await,
        Some((2, json!({ "id": "ag-1", "n": 2 })))
    );
    assert_eq!(rows(s, "outbox").await, events);
    assert_eq!(rows(s, "audit_log").await, entries);
    assert!(s.lookup_request(&key).await.unwrap().is_none());
    assert!(store::pending_phases(s, i64::MAX).await.unwrap().is_empty());

    // An update of a record that was never written is stale too.
    let ghost = batch(vec![
        doc(Table::Agreements, "ag-9", "", "draft", 2).replacing(1),
    ]);
    assert!(matches!(s.write(&ghost).await, Err(StoreError::Conflict)));
    assert_eq!(record(s, Table::Agreements, "ag-9").await, None);

    // Rebased on the current version, the same change lands whole.
    stale.docs[1] = doc(Table::Agreements, "ag-1", "", "signed", 3).replacing(2);
    assert!(matches!(
        s.write(&stale).await.unwrap(),
        WriteOutcome::Applied
    ));
    assert_eq!(
        record(s, Table::Agreements, "ag-1").await,
        Some((3, json!({ "id": "ag-1", "n": 3 })))
    );
    assert!(record(s, Table::Agreements, "ag-2").await.is_some());
    assert_eq!(
        store::pending_phases(s, i64::MAX).await.unwrap(),
        vec!["ph-1".to_string()]
    );
    assert_eq!(rows(s, "outbox").await, events + 1);
    assert_eq!(rows(s, "audit_log").await, entries + 1);
}

async fn an_id_already_taken_fails_naming_the_table_and_writes_nothing_of_its_batch(
    s: &ExchangeStore,
) {
    let id = "ph-1/UA/offer/1";
    s.write(&batch(vec![doc(
        Table::ListVersions,
        id,
        "ph-1",
        "offer",
        1,
    )]))
    .await
    .unwrap();
    let (events, entries) = (rows(s, "outbox").await, rows(s, "audit_log").await);

    // The agreement is inserted before the list version collides.
    let taken = WriteBatch {
        docs: vec![
            doc(Table::Agreements, "ag-2", "", "draft", 1),
            doc(Table::ListVersions, id, "ph-1", "offer", 2),
        ],
        events: vec![event(id)],
        audit: vec![audit(id)],
        ..WriteBatch::default()
    };
    match s.write(&taken).await {
        Err(StoreError::UniqueViolation(name)) => {
            assert!(name.contains("list_versions"), "{name} names another table")
        }
        other => panic!("expected a unique violation, got {other:?}"),
    }
    assert_eq!(record(s, Table::Agreements, "ag-2").await, None);
    assert_eq!(
        record(s, Table::ListVersions, id).await,
        Some((1, json!({ "id": id, "n": 1 })))
    );
    assert_eq!(
        listed(s, Table::ListVersions, &Filter::all_of(""))
            .await
            .len(),
        1
    );
    assert_eq!(rows(s, "outbox").await, events);
    assert_eq!(rows(s, "audit_log").await, entries);

    // Two inserts of one id in the same batch collide with each other.
    let twice = batch(vec![
        doc(Table::ListVersions, "ph-1/UA/offer/2", "ph-1", "offer", 1),
        doc(Table::ListVersions, "ph-1/UA/offer/2", "ph-1", "offer", 2),
    ]);
    assert!(matches!(
        s.write(&twice).await,
        Err(StoreError::UniqueViolation(_))
    ));
    assert_eq!(
        record(s, Table::ListVersions, "ph-1/UA/offer/2").await,
        None
    );
}

async fn lists_filter_by_parent_and_tag_in_creation_order_and_page_without_gaps_or_repeats(
    s: &ExchangeStore,
) {
    let shape = |i: i64| {
        (
            format!("c-{i:02}"),
            if i % 2 == 0 { "ph-a" } else { "ph-b" },
            if i % 3 == 0 { "refused" } else { "agreed" },
        )
    };
    // The first ten in one write (creation order within a write is the order given), the rest
    // one by one.
    let docs = (0..10)
        .map(|i| {
            let (id, parent, tag) = shape(i);
            doc(Table::Consents, &id, parent, tag, i)
        })
        .collect();
    s.write(&batch(docs)).await.unwrap();
    for i in 10..25 {
        let (id, parent, tag) = shape(i);
        s.write(&batch(vec![doc(Table::Consents, &id, parent, tag, i)]))
            .await
            .unwrap();
    }
    // Another table's records never show up in this one's lists.
    s.write(&batch(vec![doc(
        Table::HoldBacks,
        "h-1",
        "ph-a",
        "agreed",
        0,
    )]))
    .await
    .unwrap();

    for (parent, tag) in [
        ("", None),
        ("ph-a", None),
        ("ph-b", None),
        ("", Some("refused")),
        ("ph-a", Some("agreed")),
        ("ph-b", Some("refused")),
    ] {
        let expected: Vec<String> = (0..25)
            .map(shape)
            .filter(|(_, p, t)| (parent.is_empty() || *p == parent) && tag.is_none_or(|x| x == *t))
            .map(|(id, _, _)| id)
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(
            paged(s, Table::Consents, parent, tag, 7).await,
            expected,
            "parent {parent:?}, tag {tag:?}"
        );
        // One page holding them all gives the same.
        assert_eq!(paged(s, Table::Consents, parent, tag, 100).await, expected);
    }
    let first_page = s
        .list(
            Table::Consents,
            &Filter {
                limit: 7,
                ..Filter::all_of("")
            },
        )
        .await
        .unwrap();
    assert_eq!(first_page.len(), 7);
    assert!(paged(s, Table::Consents, "ph-c", None, 7).await.is_empty());
    assert!(
        paged(s, Table::Consents, "ph-a", Some("withdrawn"), 7)
            .await
            .is_empty()
    );
}

async fn phases_with_a_registry_step_under_way_are_found(s: &ExchangeStore) {
    s.write(&batch(vec![
        doc(Table::Phases, "ph-1", "ag-1", "reserving", 1).due(Some(1)),
        doc(Table::Phases, "ph-2", "ag-1", "planned", 1),
        doc(Table::Phases, "ph-3", "ag-1", "releasing", 1).due(Some(1)),
    ]))
    .await
    .unwrap();
    assert_eq!(
        store::pending_phases(s, i64::MAX).await.unwrap(),
        vec!["ph-1", "ph-3"]
    );

    s.write(&batch(vec![
        doc(Table::Phases, "ph-1", "ag-1", "reserved", 2)
            .replacing(1)
            .due(None),
        doc(Table::Phases, "ph-2", "ag-1", "reserving", 2)
            .replacing(1)
            .due(Some(1)),
    ]))
    .await
    .unwrap();
    assert_eq!(
        store::pending_phases(s, i64::MAX).await.unwrap(),
        vec!["ph-2", "ph-3"]
    );

    s.write(&batch(vec![
        doc(Table::Phases, "ph-2", "ag-1", "reserved", 3).replacing(2),
        doc(Table::Phases, "ph-3", "ag-1", "released", 2).replacing(1),
    ]))
    .await
    .unwrap();
    assert!(store::pending_phases(s, i64::MAX).await.unwrap().is_empty());
}

async fn a_replayed_request_key_returns_the_stored_response_and_writes_nothing(s: &ExchangeStore) {
    let key = RequestKey::new("create_agreement", "r-1", b"body").unwrap();
    assert!(s.lookup_request(&key).await.unwrap().is_none());
    let first = WriteBatch {
        key: Some(key.clone()),
        response: b"first".to_vec(),
        docs: vec![doc(Table::Agreements, "ag-1", "", "draft", 1)],
        events: vec![event("ag-1")],
        audit: vec![audit("ag-1")],
    };
    assert!(matches!(
        s.write(&first).await.unwrap(),
        WriteOutcome::Applied
    ));
    match s.lookup_request(&key).await.unwrap() {
        Some(Replay::Same(bytes)) => assert_eq!(bytes, b"first"),
        other => panic!("expected the stored response, got {other:?}"),
    }
    let (events, entries) = (rows(s, "outbox").await, rows(s, "audit_log").await);

    let again = WriteBatch {
        key: Some(key.clone()),
        response: b"second".to_vec(),
        docs: vec![
            doc(Table::Agreements, "ag-2", "", "draft", 1),
            doc(Table::Agreements, "ag-1", "", "signed", 2).replacing(1),
        ],
        events: vec![event("ag-2")],
        audit: vec![audit("ag-2")],
    };
    match s.write(&again).await.unwrap() {
        WriteOutcome::Replayed(Replay::Same(bytes)) => assert_eq!(bytes, b"first"),
        other => panic!("expected a replay, got {other:?}"),
    }

    let other_body = RequestKey::new("create_agreement", "r-1", b"other").unwrap();
    let mismatched = WriteBatch {
        key: Some(other_body.clone()),
        ..again.clone()
    };
    assert!(matches!(
        s.write(&mismatched).await.unwrap(),
        WriteOutcome::Replayed(Replay::Mismatch)
    ));
    assert!(matches!(
        s.lookup_request(&other_body).await.unwrap(),
        Some(Replay::Mismatch)
    ));

    assert_eq!(record(s, Table::Agreements, "ag-2").await, None);
    assert_eq!(
        record(s, Table::Agreements, "ag-1").await,
        Some((1, json!({ "id": "ag-1", "n": 1 })))
    );
    assert_eq!(rows(s, "outbox").await, events);
    assert_eq!(rows(s, "audit_log").await, entries);
    // Request ids are kept per scope.
    let elsewhere = RequestKey::new("create_phase", "r-1", b"body").unwrap();
    assert!(s.lookup_request(&elsewhere).await.unwrap().is_none());
}

async fn many_records_in_one_write_all_land_and_list_back_in_order(s: &ExchangeStore) {
    const N: i64 = 1_000;
    let tag = |i: i64| if i % 2 == 0 { "matched" } else { "unmatched" };
    let expected: Vec<String> = (0..N).map(|i| format!("rc-1/{i}")).collect();
    let items = WriteBatch {
        docs: (0..N)
            .map(|i| {
                doc(
                    Table::ReconciliationItems,
                    &expected[i as usize],
                    "rc-1",
                    tag(i),
                    i,
                )
            })
            .collect(),
        events: expected.iter().map(|id| event(id)).collect(),
        ..WriteBatch::default()
    };
    s.write(&items).await.unwrap();

    let listed = s
        .list(Table::ReconciliationItems, &Filter::all_of("rc-1"))
        .await
        .unwrap();
    assert_eq!(ids(&listed), expected);
    for (i, stored) in listed.iter().enumerate() {
        assert_eq!(stored.version, 1);
        assert_eq!(stored.decode::<Value>().unwrap()["n"], json!(i));
    }
    assert_eq!(
        paged(s, Table::ReconciliationItems, "rc-1", None, 7).await,
        expected
    );
    assert_eq!(
        paged(
            s,
            Table::ReconciliationItems,
            "rc-1",
            Some("unmatched"),
            100
        )
        .await
        .len(),
        500
    );
    assert_eq!(rows(s, "outbox").await, N);

    // One stale version among a thousand updates fails them all.
    let mut updates: Vec<DocWrite> = (0..N)
        .map(|i| {
            doc(
                Table::ReconciliationItems,
                &expected[i as usize],
                "rc-1",
                "matched",
                N + i,
            )
            .replacing(1)
        })
        .collect();
    updates[N as usize - 1] = updates[N as usize - 1].clone().replacing(7);
    assert!(matches!(
        s.write(&batch(updates.clone())).await,
        Err(StoreError::Conflict)
    ));
    let unchanged = s
        .list(Table::ReconciliationItems, &Filter::all_of("rc-1"))
        .await
        .unwrap();
    assert!(unchanged.iter().all(|stored| stored.version == 1));

    updates[N as usize - 1] = updates[N as usize - 1].clone().replacing(1);
    s.write(&batch(updates)).await.unwrap();
    let updated = s
        .list(Table::ReconciliationItems, &Filter::all_of("rc-1"))
        .await
        .unwrap();
    assert_eq!(ids(&updated), expected);
    for (i, stored) in updated.iter().enumerate() {
        assert_eq!(stored.version, 2);
        assert_eq!(stored.decode::<Value>().unwrap()["n"], json!(N + i as i64));
    }
    assert_eq!(
        paged(s, Table::ReconciliationItems, "rc-1", Some("matched"), 100)
            .await
            .len(),
        N as usize
    );
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() { super::$name(&*super::fixture(false).await.store).await })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() { super::$name(&*super::fixture(true).await.store).await })*
        }
    };
}

conformance!(
    a_written_record_reads_back_and_an_update_names_the_version_it_replaces,
    a_stale_update_fails_with_conflict_and_writes_nothing_of_its_batch,
    an_id_already_taken_fails_naming_the_table_and_writes_nothing_of_its_batch,
    lists_filter_by_parent_and_tag_in_creation_order_and_page_without_gaps_or_repeats,
    phases_with_a_registry_step_under_way_are_found,
    a_replayed_request_key_returns_the_stored_response_and_writes_nothing,
    many_records_in_one_write_all_land_and_list_back_in_order,
);
