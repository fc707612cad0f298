//! For tests (feature `testing`, and this crate's own): a PostgreSQL
//! database made for one test on the server at `CARECHAT_TEST_POSTGRES`
//! (by default `postgres://postgres@127.0.0.1:5432/test`, where the
//! development and CI machines run one), dropped when the test ends. Where
//! no server answers, the test says that it skipped; under CI (`CI` set),
//! where one always runs, that is a failure instead.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

/// A database of one test's own; dropped with it.
pub struct PgDatabase {
    /// The database's URL.
    pub url: String,
    server: String,
    name: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The PostgreSQL server tests make their databases on.
pub fn server() -> String {
    std::env::var("CARECHAT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

impl PgDatabase {
    /// A fresh database for `test`, or `None`, saying that `test` skipped,
    /// where no PostgreSQL server answers (a panic under CI).
    pub async fn create(test: &str) -> Option<PgDatabase> {
        let server = server();
        let mut admin = match sqlx::PgConnection::connect(&server).await {
            Ok(conn) => conn,
            Err(e) if std::env::var_os("CI").is_none() => {
                eprintln!("SKIPPED {test}: no PostgreSQL at {server} ({e})");
                return None;
            }
            Err(e) => panic!("CI runs PostgreSQL, but {server} does not answer: {e}"),
        };
        let name = format!(
            "carechat_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("creating a test database");
        let _ = admin.close().await;
        let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
        Some(PgDatabase {
            url: format!("{base}/{name}"),
            server: server.clone(),
            name,
        })
    }
}

impl Drop for PgDatabase {
    /// Drops the database, closing what is still connected to it (from a
    /// thread of its own: the test's runtime may be ending).
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&server).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                Ok::<_, sqlx::Error>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("a test database was not dropped: {e}");
        }
    }
}
