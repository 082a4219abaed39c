//! Leases on background work against a real PostgreSQL: one holder at a time, and a holder that
//! goes away hands the lease on.

use homeward_kit::{
    config::DatabaseConfig,
    db::{Db, Migrations, lease_key, testing::fresh_postgres_database},
};

static NONE: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;
const NO_MIGRATIONS: Migrations = Migrations {
    postgres: &NONE,
    sqlite: &NONE,
};

async fn replica(url: &str) -> Db {
    let config = DatabaseConfig {
        url: url.to_string(),
        max_connections: 2,
        ..DatabaseConfig::default()
    };
    Db::connect(&config, &NO_MIGRATIONS)
        .await
        .expect("connects")
}

#[tokio::test]
async fn one_replica_holds_a_lease_and_hands_it_on_when_it_goes() {
    let url = fresh_postgres_database("lease").await;
    let (first, second) = (replica(&url).await, replica(&url).await);
    let key = lease_key("follow:registry");
    assert_ne!(key, lease_key("follow:exchange"));

    let held = first.try_lease(key).await.expect("lease").expect("free");
    assert!(second.try_lease(key).await.expect("lease").is_none());
    // Another piece of work is not blocked.
    assert!(
        second
            .try_lease(lease_key("other"))
            .await
            .expect("lease")
            .is_some()
    );

    drop(held);
    let mut taken = None;
    for _ in 0..50 {
        taken = second.try_lease(key).await.expect("lease");
        if taken.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(taken.is_some(), "the lease passed to the other replica");
    assert!(first.try_lease(key).await.expect("lease").is_none());
}
