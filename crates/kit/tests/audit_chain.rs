//! The audit chain against real databases: tampering with any sealed entry — changing,
//! deleting, reordering or cutting off the end — is found by the verifier.

use homeward_kit::{
    audit::{self, AuditEntry},
    config::DatabaseConfig,
    db::{Db, Migrations},
};
use sqlx::migrate::Migrator;

static NONE: Migrator = Migrator::DEFAULT;
const NO_SERVICE_TABLES: Migrations = Migrations {
    postgres: &NONE,
    sqlite: &NONE,
};

struct Fixture {
    db: Db,
    _dir: Option<tempfile::TempDir>,
}

async fn fixture(postgres: bool) -> Fixture {
    let (url, dir) = if postgres {
        (
            homeward_kit::db::testing::fresh_postgres_database("hw_kit").await,
            None,
        )
    } else {
        let dir = tempfile::tempdir().unwrap();
        (
            format!("sqlite://{}", dir.path().join("kit.db").display()),
            Some(dir),
        )
    };
    let db = Db::connect(
        &DatabaseConfig {
            url,
            ..DatabaseConfig::default()
        },
        &NO_SERVICE_TABLES,
    )
    .await
    .expect("database");
    Fixture { db, _dir: dir }
}

fn entry(i: usize) -> AuditEntry {
    AuditEntry {
        actor: format!("registrar-{i}"),
        action: "person.create".into(),
        target: format!("p-{i}"),
        request_id: format!("r-{i}"),
        details: serde_json::json!({"n": i}),
    }
}

async fn record(db: &Db, n: usize) {
    for i in 0..n {
        match db {
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await.unwrap();
                audit::postgres::append(&mut tx, &entry(i)).await.unwrap();
                tx.commit().await.unwrap();
            }
            Db::Sqlite(pool) => {
                let mut tx = pool.begin().await.unwrap();
                audit::sqlite::append(&mut tx, &entry(i)).await.unwrap();
                tx.commit().await.unwrap();
            }
        }
    }
    // Sequenced here, not by a background task that could race the tampering below.
    homeward_kit::outbox::sequence_now(db).await.unwrap();
}

async fn exec(db: &Db, sql: &'static str) {
    match db {
        Db::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
    }
    .expect("tamper statement");
}

async fn tampering_is_detected(postgres: bool) {
    // Changed.
    let f = fixture(postgres).await;
    record(&f.db, 10).await;
    let intact = audit::verify(&f.db, None).await.unwrap();
    assert!(intact.intact, "{}", intact.problem);
    assert_eq!(intact.entries, 10);
    assert_eq!(intact.head_sequence, 10);
    exec(
        &f.db,
        "UPDATE audit_log SET target = 'p-other' \
         WHERE id = (SELECT audit_id FROM audit_chain WHERE sequence = 4)",
    )
    .await;
    let v = audit::verify(&f.db, None).await.unwrap();
    assert!(!v.intact);
    assert_eq!(v.first_bad_sequence, 4);

    // Deleted.
    let f = fixture(postgres).await;
    record(&f.db, 10).await;
    exec(
        &f.db,
        "DELETE FROM audit_log WHERE id = (SELECT audit_id FROM audit_chain WHERE sequence = 6)",
    )
    .await;
    let v = audit::verify(&f.db, None).await.unwrap();
    assert!(!v.intact);
    assert_eq!(v.first_bad_sequence, 6);

    // Reordered: two entries swap places.
    let f = fixture(postgres).await;
    record(&f.db, 10).await;
    exec(
        &f.db,
        "UPDATE audit_chain SET sequence = -1 WHERE sequence = 3",
    )
    .await;
    exec(
        &f.db,
        "UPDATE audit_chain SET sequence = 3 WHERE sequence = 5",
    )
    .await;
    exec(
        &f.db,
        "UPDATE audit_chain SET sequence = 5 WHERE sequence = -1",
    )
    .await;
    let v = audit::verify(&f.db, None).await.unwrap();
    assert!(!v.intact);
    assert_eq!(v.first_bad_sequence, 3);

    // Cut short: the tail is gone, and only the anchor can tell.
    let f = fixture(postgres).await;
    record(&f.db, 10).await;
    let before = audit::verify(&f.db, None).await.unwrap();
    exec(
        &f.db,
        "DELETE FROM audit_log WHERE id IN (SELECT audit_id FROM audit_chain WHERE sequence > 7)",
    )
    .await;
    exec(&f.db, "DELETE FROM audit_chain WHERE sequence > 7").await;
    assert!(audit::verify(&f.db, None).await.unwrap().intact);
    let v = audit::verify(&f.db, Some((before.head_sequence, &before.head_hash)))
        .await
        .unwrap();
    assert!(!v.intact);
    assert_eq!(v.first_bad_sequence, 10);

    // Taken out of the queue before it was chained: found all the same.
    let f = fixture(postgres).await;
    record(&f.db, 4).await;
    match &f.db {
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await.unwrap();
            audit::postgres::append(&mut tx, &entry(99)).await.unwrap();
            tx.commit().await.unwrap();
        }
        Db::Sqlite(pool) => {
            let mut tx = pool.begin().await.unwrap();
            audit::sqlite::append(&mut tx, &entry(99)).await.unwrap();
            tx.commit().await.unwrap();
        }
    }
    exec(&f.db, "DELETE FROM audit_pending").await;
    record(&f.db, 0).await;
    let v = audit::verify(&f.db, None).await.unwrap();
    assert!(!v.intact);
    assert_eq!(v.first_bad_sequence, 5);
    assert!(
        v.problem.contains("taken out of the chain"),
        "{}",
        v.problem
    );

    // New entries after a verification chain onto the old head.
    let f = fixture(postgres).await;
    record(&f.db, 3).await;
    let first = audit::verify(&f.db, None).await.unwrap();
    record(&f.db, 3).await;
    let v = audit::verify(&f.db, Some((first.head_sequence, &first.head_hash)))
        .await
        .unwrap();
    assert!(v.intact, "{}", v.problem);
    assert_eq!(v.entries, 6);
}

#[tokio::test]
async fn sqlite_audit_tampering_is_detected() {
    tampering_is_detected(false).await;
}

#[tokio::test]
async fn postgres_audit_tampering_is_detected() {
    tampering_is_detected(true).await;
}
