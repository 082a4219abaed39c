//! The conformance suite every registry store must pass, run against SQLite and PostgreSQL.

use std::sync::Arc;

use homeward_kit::{
    StoreError,
    config::DatabaseConfig,
    db::Db,
    idempotency::{Replay, RequestKey},
};
use homeward_registry::{
    domain::*,
    store::{self, ListFilter, PersonWrite, RegistryStore, Reservation, WriteBatch, WriteOutcome},
};
use uuid::Uuid;

struct Fixture {
    store: Arc<dyn RegistryStore>,
    _dir: Option<tempfile::TempDir>,
}

async fn fixture(postgres: bool) -> Fixture {
    let (url, dir) = if postgres {
        (
            homeward_kit::db::testing::fresh_postgres_database("hw_store").await,
            None,
        )
    } else {
        let dir = tempfile::tempdir().unwrap();
        (
            format!("sqlite://{}", dir.path().join("r.db").display()),
            Some(dir),
        )
    };
    let db = Db::connect(
        &DatabaseConfig {
            url,
            ..DatabaseConfig::default()
        },
        &homeward_registry::MIGRATIONS,
    )
    .await
    .expect("database");
    Fixture {
        store: store::for_db(db),
        _dir: dir,
    }
}

fn person(family: &str, holding: &str) -> Person {
    Person {
        id: Uuid::now_v7(),
        version: 1,
        identity: Identity {
            category: Category::ServiceMember,
            sex: Sex::Male,
            names: vec![NameVariant {
                script: Script::Cyrillic,
                given: "Олег".into(),
                family: family.into(),
                patronymic: String::new(),
                source: Source::OwnReport,
                language: "uk".into(),
            }],
            birth_date: None,
            birth_place: String::new(),
            citizenship: "UA".into(),
            affiliated_party: "UA".into(),
            holding_party: holding.into(),
            service_number: String::new(),
            rank: String::new(),
            unit: String::new(),
            documents: vec![],
            capture: None,
            detention_place: String::new(),
            health: Health::default(),
            file_reference: None,
        },
        status: Status::Captured,
        status_at_us: 1,
        reserved_for: None,
        status_before_reservation: None,
        history_len: 1,
        merged_into: None,
        created_at_us: 1,
        updated_at_us: 1,
    }
}

fn entry(sequence: i64, status: Status) -> StatusEntry {
    StatusEntry {
        sequence,
        status,
        occurred_at_us: sequence,
        source: Source::OwnReport,
        reliability: Reliability::UsuallyReliable,
        detention_place: String::new(),
        capture: None,
        exchange_id: None,
        note: String::new(),
        recorded_at_us: sequence,
        recorded_by: "t".into(),
    }
}

fn insert(p: &Person) -> WriteBatch {
    WriteBatch {
        persons: vec![PersonWrite {
            person: p.clone(),
            expected_version: None,
            history: Some(entry(1, p.status)),
            reservation: Reservation::None,
        }],
        ..WriteBatch::default()
    }
}

fn change(p: &Person, reservation: Reservation) -> (Person, WriteBatch) {
    let mut next = p.clone();
    next.version += 1;
    next.history_len += 1;
    let batch = WriteBatch {
        persons: vec![PersonWrite {
            person: next.clone(),
            expected_version: Some(p.version),
            history: Some(entry(next.history_len, next.status)),
            reservation,
        }],
        ..WriteBatch::default()
    };
    (next, batch)
}

async fn written_persons_read_back_unchanged(s: &dyn RegistryStore) {
    let p = person("Коваленко", "RU");
    s.write(&insert(&p)).await.unwrap();
    assert_eq!(s.get_person(p.id).await.unwrap(), Some(p.clone()));
    assert_eq!(
        s.get_persons(&[p.id, Uuid::now_v7()]).await.unwrap(),
        vec![p.clone()]
    );
    assert_eq!(
        s.history(p.id, 0, 10).await.unwrap(),
        vec![entry(1, Status::Captured)]
    );
    assert_eq!(s.get_person(Uuid::now_v7()).await.unwrap(), None);
}

async fn a_stale_version_writes_nothing(s: &dyn RegistryStore) {
    let p = person("Шевчук", "RU");
    s.write(&insert(&p)).await.unwrap();
    let (next, batch) = change(&p, Reservation::None);
    s.write(&batch).await.unwrap();
    // The same change again is based on a version that is gone.
    assert!(matches!(s.write(&batch).await, Err(StoreError::Conflict)));
    assert_eq!(s.get_person(p.id).await.unwrap(), Some(next));
    assert_eq!(s.history(p.id, 0, 10).await.unwrap().len(), 2);
}

async fn nobody_is_reserved_for_two_exchanges(s: &dyn RegistryStore) {
    let p = person("Бондар", "RU");
    s.write(&insert(&p)).await.unwrap();
    let (_, first) = change(&p, Reservation::Reserve("phase-1".into()));
    let (_, second) = change(&p, Reservation::Reserve("phase-2".into()));
    s.write(&first).await.unwrap();
    // Even bypassing the version check, the store refuses a second reservation.
    let mut bypass = second.clone();
    bypass.persons[0].expected_version = Some(2);
    bypass.persons[0].person.version = 3;
    bypass.persons[0].history.as_mut().unwrap().sequence = 3;
    assert!(matches!(
        s.write(&bypass).await,
        Err(StoreError::UniqueViolation(_))
    ));
    assert_eq!(s.reserved_for("phase-1").await.unwrap(), vec![p.id]);
    assert!(s.reserved_for("phase-2").await.unwrap().is_empty());
}

async fn a_request_id_is_applied_once(s: &dyn RegistryStore) {
    let key = RequestKey::new("create_person", "r-1", b"body").unwrap();
    let p = person("Мельник", "RU");
    let mut batch = insert(&p);
    batch.key = Some(key.clone());
    batch.response = b"first".to_vec();
    assert!(matches!(
        s.write(&batch).await.unwrap(),
        WriteOutcome::Applied
    ));
    let mut again = insert(&person("Мельник", "RU"));
    again.key = Some(key.clone());
    match s.write(&again).await.unwrap() {
        WriteOutcome::Replayed(Replay::Same(bytes)) => assert_eq!(bytes, b"first"),
        other => panic!("expected a replay, got {other:?}"),
    }
    let other_body = RequestKey::new("create_person", "r-1", b"other").unwrap();
    assert!(matches!(
        s.lookup_request(&other_body).await.unwrap(),
        Some(Replay::Mismatch)
    ));
    assert_eq!(
        s.list_persons(&ListFilter::default(), 0, 100)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn lists_filter_and_page_in_registration_order(s: &dyn RegistryStore) {
    let mut ids = Vec::new();
    for i in 0..7 {
        let p = person("Ткач", if i % 2 == 0 { "RU" } else { "UA" });
        ids.push(p.id);
        s.write(&insert(&p)).await.unwrap();
    }
    let filter = ListFilter {
        holding_party: Some("RU".into()),
        ..ListFilter::default()
    };
    let first = s.list_persons(&filter, 0, 2).await.unwrap();
    let rest = s
        .list_persons(&filter, first.last().unwrap().0, 10)
        .await
        .unwrap();
    let listed: Vec<Uuid> = first.iter().chain(rest.iter()).map(|(_, p)| p.id).collect();
    assert_eq!(listed, vec![ids[0], ids[2], ids[4], ids[6]]);
    let captured = ListFilter {
        status: Some(Status::Deceased),
        ..ListFilter::default()
    };
    assert!(s.list_persons(&captured, 0, 10).await.unwrap().is_empty());
}

async fn merged_duplicates_leave_lists_but_stay_readable(s: &dyn RegistryStore) {
    let survivor = person("Коваленко", "RU");
    let duplicate = person("Kovalenko", "RU");
    s.write(&insert(&survivor)).await.unwrap();
    s.write(&insert(&duplicate)).await.unwrap();
    let mut merged = duplicate.clone();
    merged.version += 1;
    merged.merged_into = Some(survivor.id);
    let batch = WriteBatch {
        persons: vec![PersonWrite {
            person: merged,
            expected_version: Some(duplicate.version),
            history: None,
            reservation: Reservation::None,
        }],
        ..WriteBatch::default()
    };
    s.write(&batch).await.unwrap();
    let listed: Vec<_> = s
        .list_persons(&ListFilter::default(), 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, p)| p.id)
        .collect();
    assert_eq!(listed, vec![survivor.id]);
    let read = s.get_person(duplicate.id).await.unwrap().unwrap();
    assert_eq!(read.merged_into, Some(survivor.id));
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
    written_persons_read_back_unchanged,
    a_stale_version_writes_nothing,
    nobody_is_reserved_for_two_exchanges,
    a_request_id_is_applied_once,
    lists_filter_and_page_in_registration_order,
    merged_duplicates_leave_lists_but_stay_readable,
);
