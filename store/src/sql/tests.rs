//! The store's tests, each run on both engines: SQLite in a file of a
//! temporary directory, and PostgreSQL in a database made for the test and
//! dropped after it ([`crate::testing`]: where no PostgreSQL server
//! answers, the PostgreSQL half of each test says that it skipped, and
//! fails instead under CI, where one always runs).

use crate::*;

fn key() -> AuditKey {
    AuditKey::new([7; 32])
}

/// Runs each named `async fn NAME(db: &TestDb)` as two tests,
/// `NAME::sqlite` and `NAME::postgres`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(&super::TestDb::sqlite()).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(db) = super::TestDb::postgres(stringify!($name)).await {
                    super::$name(&db).await;
                }
            }
        }
    )*};
}

/// Where one test's store lives.
pub(super) struct TestDb {
    url: String,
    /// SQLite: the directory holding the file.
    dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the database made for the test.
    _made: Option<crate::testing::PgDatabase>,
}

impl TestDb {
    fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("clinic.db").to_str().unwrap().to_string();
        TestDb {
            url,
            dir: Some(dir),
            _made: None,
        }
    }

    /// A fresh database on the PostgreSQL server, or `None` (saying so)
    /// where none answers outside CI.
    async fn postgres(test: &str) -> Option<TestDb> {
        let made = crate::testing::PgDatabase::create(&format!("{test}::postgres")).await?;
        Some(TestDb {
            url: made.url.clone(),
            dir: None,
            _made: Some(made),
        })
    }

    /// The store, without a vault.
    async fn store(&self) -> SqlStore {
        SqlStore::open(&self.url, key()).await.unwrap()
    }

    /// The store keeping originals under `ring`.
    async fn store_with_vault(&self, ring: crate::envelope::Keyring) -> SqlStore {
        SqlStore::open_with_vault(&self.url, key(), ring)
            .await
            .unwrap()
    }

    /// SQLite's database file; `None` on PostgreSQL.
    fn file(&self) -> Option<std::path::PathBuf> {
        self.dir.as_ref().map(|d| d.path().join("clinic.db"))
    }
}

on_both!(
    users_round_trip_and_names_are_unique,
    sessions_expire_idle_and_end,
    account_changes_that_matter_end_sessions_and_removal_is_final,
    conversations_and_messages,
    a_unit_of_work_is_all_or_nothing,
    blocks_match_either_identity_and_lifting_is_audited,
    notes_and_team_messages,
    a_corrupt_row_is_an_error_not_a_default,
    the_audit_chain_holds_and_shows_where_it_was_broken,
    another_key_does_not_verify_and_an_old_trail_is_sealed_once,
    wrong_passwords_lock_an_account_for_a_while,
    every_clinician_a_conversation_was_assigned_to_is_remembered,
    the_audit_trail_is_filtered_by_who_what_on_what_and_when,
    canned_replies_are_shared_or_ones_own_and_the_most_used_come_first,
    activity_counts_a_chat_once_and_outlives_the_chat,
);

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        display_name: format!("Dr {name}"),
        role: Role::Clinician,
        password_hash: "hash".into(),
        skills: vec!["billing".into(), "nursing".into()],
        languages: vec!["en".into(), "es".into()],
        max_chats: 3,
        licensed_states: vec!["CA".into()],
    }
}

fn c1() -> ConversationId {
    ConversationId::new("c1")
}

async fn with_conversation(s: &SqlStore) -> Conversation {
    s.create_conversation(NewConversation::new(c1(), "r1"))
        .await
        .unwrap()
}

async fn users_round_trip_and_names_are_unique(db: &TestDb) {
    let s = db.store().await;
    let u = s.create_user(new_user("ana")).await.unwrap();
    assert_eq!(u.skills, ["billing", "nursing"]);
    assert_eq!(u.licensed_states, ["CA"]);
    assert_eq!(s.user_by_name("ana").await.unwrap().id, u.id);
    assert!(matches!(
        s.create_user(new_user("ana")).await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        s.user_by_name("bob").await,
        Err(StoreError::NotFound)
    ));
}

async fn sessions_expire_idle_and_end(db: &TestDb) {
    let s = db.store().await;
    let u = s.create_user(new_user("ana")).await.unwrap();
    let at = Timestamp::from_unix;
    let idle = 60;
    s.create_session("h1", u.id, at(0), at(1000)).await.unwrap();
    assert_eq!(s.session_user("h1", at(59), idle).await.unwrap().id, u.id);
    // Idle for a minute: over, unless it was used meanwhile.
    assert!(matches!(
        s.session_user("h1", at(60), idle).await,
        Err(StoreError::NotFound)
    ));
    s.touch_session("h1", at(50)).await.unwrap();
    assert_eq!(s.session_user("h1", at(109), idle).await.unwrap().id, u.id);
    // A late touch never moves last use back.
    s.touch_session("h1", at(10)).await.unwrap();
    assert_eq!(s.session_user("h1", at(109), idle).await.unwrap().id, u.id);
    // However busy, the absolute lifetime ends it.
    s.touch_session("h1", at(999)).await.unwrap();
    assert!(matches!(
        s.session_user("h1", at(1000), idle).await,
        Err(StoreError::NotFound)
    ));
    s.create_session("h2", u.id, at(0), at(1000)).await.unwrap();
    s.delete_session("h2").await.unwrap();
    assert!(matches!(
        s.session_user("h2", at(1), idle).await,
        Err(StoreError::NotFound)
    ));
    s.create_session("h3", u.id, at(0), at(1000)).await.unwrap();
    s.create_session("h4", u.id, at(0), at(1000)).await.unwrap();
    assert_eq!(
        s.end_sessions(u.id).await.unwrap(),
        3,
        "h1 (over), h3 and h4"
    );
    assert!(s.session_user("h3", at(1), idle).await.is_err());
}

async fn account_changes_that_matter_end_sessions_and_removal_is_final(db: &TestDb) {
    let s = db.store().await;
    let u = s.create_user(new_user("ana")).await.unwrap();
    assert!(u.active());
    let at = Timestamp::from_unix;
    let live = |h: &'static str| {
        let s = &s;
        async move { s.session_user(h, at(1), 60).await.is_ok() }
    };
    s.create_session("h1", u.id, at(0), at(100)).await.unwrap();
    // Skills, languages, states and the chat limit leave sessions alone.
    let changed = s
        .update_user(
            u.id,
            UserUpdate {
                skills: Some(vec!["refills".into()]),
                max_chats: Some(2),
                licensed_states: Some(vec![]),
                ..UserUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (changed.skills.as_slice(), changed.max_chats),
        (&["refills".to_string()][..], 2)
    );
    assert!(changed.licensed_states.is_empty());
    assert!(live("h1").await);
    // A new role ends them.
    let admin = s
        .update_user(
            u.id,
            UserUpdate {
                role: Some(Role::Auditor),
                ..UserUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(admin.role, Role::Auditor);
    assert!(!live("h1").await);
    // So does a new password.
    s.create_session("h2", u.id, at(0), at(100)).await.unwrap();
    s.update_user(
        u.id,
        UserUpdate {
            password_hash: Some("new".into()),
            ..UserUpdate::default()
        },
    )
    .await
    .unwrap();
    assert!(!live("h2").await);
    assert_eq!(s.user(u.id).await.unwrap().password_hash, "new");
    // Disabled: no session is good, not even a new one, until enabled.
    s.create_session("h3", u.id, at(0), at(100)).await.unwrap();
    let off = s
        .update_user(
            u.id,
            UserUpdate {
                disabled: Some(true),
                ..UserUpdate::default()
            },
        )
        .await
        .unwrap();
    assert!(off.disabled_at.is_some() && !off.active());
    assert!(!live("h3").await);
    s.create_session("h4", u.id, at(0), at(100)).await.unwrap();
    assert!(!live("h4").await, "a disabled account's session is refused");
    let on = s
        .update_user(
            u.id,
            UserUpdate {
                disabled: Some(false),
                ..UserUpdate::default()
            },
        )
        .await
        .unwrap();
    assert!(on.active());
    assert!(live("h4").await);
    // Removed: sessions end, the name stays taken, nothing changes it back.
    let gone = s.remove_user(u.id).await.unwrap();
    assert!(gone.removed_at.is_some() && !gone.active());
    assert!(!live("h4").await);
    assert!(matches!(
        s.remove_user(u.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.update_user(
            u.id,
            UserUpdate {
                disabled: Some(false),
                ..UserUpdate::default()
            }
        )
        .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.create_user(new_user("ana")).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.users().await.unwrap().len(), 1, "its row stays");
}

async fn conversations_and_messages(db: &TestDb) {
    let s = db.store().await;
    let mut new = NewConversation::new(c1(), "r1");
    new.browser_language = Some("es-MX".into());
    let before = Timestamp::now();
    let c = s.create_conversation(new).await.unwrap();
    assert_eq!(c.state, ConvState::Bot);
    assert_eq!(c.browser_language.as_deref(), Some("es-MX"));
    assert!(c.created_at >= before && c.created_at <= Timestamp::now());
    assert!(s.open_conversations().await.unwrap().is_empty());
    let whisper = serde_json::json!({"intent": "billing", "confidence": 0.4});
    let c = s
        .update_conversation(
            &c1(),
            ConvUpdate {
                state: Some(ConvState::Queued),
                urgent: Some(true),
                skill: Some(Some("nursing".into())),
                whisper: Some(whisper.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(c.urgent);
    let open = s.open_conversations().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        open[0].whisper.as_ref(),
        Some(&whisper),
        "the whisper reads back as JSON"
    );
    assert_eq!(open[0].skill.as_deref(), Some("nursing"));
    assert_eq!(s.conversation_by_resume("r1").await.unwrap().id, c1());
    for text in ["one", "two"] {
        let mut m = NewMessage::plain(c1(), Sender::Patient, None, text.into());
        m.confidence = Some(0.5);
        s.add_message(m).await.unwrap();
    }
    let mut translated = NewMessage::plain(c1(), Sender::Bot, None, "three".into());
    translated.translation = Some(StoredTranslation {
        text: "tres".into(),
        language: "es".into(),
    });
    let stored = s.add_message(translated).await.unwrap();
    let m = s.messages(&c1()).await.unwrap();
    assert_eq!(
        m.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["one", "two", "three"]
    );
    assert_eq!(m[0].confidence, Some(0.5));
    assert_eq!(m[2].translation, stored.translation);
    assert_eq!(m[2].created_at, stored.created_at);
    assert!(matches!(
        s.conversation(&ConversationId::new("nope")).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.update_conversation(&ConversationId::new("nope"), ConvUpdate::default())
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn a_unit_of_work_is_all_or_nothing(db: &TestDb) {
    let s = db.store().await;
    let ana = s.create_user(new_user("ana")).await.unwrap();
    with_conversation(&s).await;
    let assign = ConvUpdate {
        state: Some(ConvState::Assigned),
        assigned_to: Some(Some(ana.id)),
        ..Default::default()
    };
    let done = s
        .commit(
            UnitOfWork::new()
                .update_conversation(&c1(), assign.clone())
                .add_message(NewMessage::plain(
                    c1(),
                    Sender::System,
                    None,
                    "Ana joined".into(),
                ))
                .audit(NewAudit::new(Some(ana.id), "take", "c1", "")),
        )
        .await
        .unwrap();
    assert_eq!(done.conversation().unwrap().assigned_to, Some(ana.id));
    assert_eq!(done.messages.len(), 1);
    assert_eq!(s.messages(&c1()).await.unwrap().len(), 1);
    assert_eq!(s.audit_log(10).await.unwrap()[0].action, "take");

    // The last write fails (no such conversation): the message and the
    // audit line before it are rolled back with it.
    let failed = s
        .commit(
            UnitOfWork::new()
                .add_message(NewMessage::plain(c1(), Sender::System, None, "lost".into()))
                .audit(NewAudit::new(Some(ana.id), "close", "c1", ""))
                .update_conversation(&ConversationId::new("nope"), assign),
        )
        .await;
    assert!(matches!(failed, Err(StoreError::NotFound)));
    assert_eq!(s.messages(&c1()).await.unwrap().len(), 1);
    assert_eq!(s.audit_log(10).await.unwrap().len(), 1);
    assert!(
        s.commit(UnitOfWork::new())
            .await
            .unwrap()
            .conversation()
            .is_none()
    );
}

async fn blocks_match_either_identity_and_lifting_is_audited(db: &TestDb) {
    let s = db.store().await;
    let admin = s.create_user(new_user("ada")).await.unwrap();
    let mut new = NewConversation::new(c1(), "r1");
    new.fingerprint = Some("fp1".into());
    new.address = Some("ip1".into());
    s.create_conversation(new).await.unwrap();
    assert!(!s.is_blocked(Some("fp1"), Some("ip1")).await.unwrap());
    assert_eq!(s.browsers_at("ip1").await.unwrap(), 1);
    assert_eq!(s.browsers_at("ip2").await.unwrap(), 0);
    let block = |conversation: Option<ConversationId>, reason: &str| NewBlock {
        kind: BlockKind::Fingerprint,
        value: "fp1".into(),
        conversation_id: conversation,
        reason: reason.into(),
        created_by: admin.id,
        admin_address: Some("10.0.0.9".into()),
    };
    let b = s.block(block(Some(c1()), "SEO pitch")).await.unwrap();
    assert_eq!(b.conversation_id, Some(c1()));
    // Matched by fingerprint whatever the address; a fingerprint value
    // does not match as an address.
    assert!(s.is_blocked(Some("fp1"), Some("other")).await.unwrap());
    assert!(!s.is_blocked(Some("other"), Some("fp1")).await.unwrap());
    assert!(!s.is_blocked(None, None).await.unwrap());
    assert!(matches!(
        s.block(block(None, "")).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.active_blocks().await.unwrap().len(), 1);

    let lifted = s.lift_block(b.id, admin.id, None).await.unwrap();
    assert_eq!(lifted.lifted_by, Some(admin.id));
    assert!(lifted.lifted_at.is_some());
    assert!(!s.is_blocked(Some("fp1"), None).await.unwrap());
    assert!(s.active_blocks().await.unwrap().is_empty());
    assert!(matches!(
        s.lift_block(b.id, admin.id, None).await,
        Err(StoreError::NotFound)
    ));
    // Once lifted, the same sender can be blocked again.
    s.block(block(None, "")).await.unwrap();
    let log = s.audit_log(10).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["block", "unblock", "block"]);
    assert_eq!(log[1].subject, format!("block:{}", b.id));
    assert_eq!(log[2].detail, "fingerprint conversation=c1");
    assert_eq!(log[2].actor_id, Some(admin.id));
}

async fn notes_and_team_messages(db: &TestDb) {
    let s = db.store().await;
    let a = s.create_user(new_user("ana")).await.unwrap();
    let b = s.create_user(new_user("ben")).await.unwrap();
    let c = s.create_user(new_user("cy")).await.unwrap();
    with_conversation(&s).await;
    s.add_note(&c1(), a.id, "billing question, see [NAME]", None)
        .await
        .unwrap();
    let notes = s.notes(&c1(), true).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!((notes[0].user_id, notes[0].about.as_str()), (a.id, "c1"));
    assert!(
        s.messages(&c1()).await.unwrap().is_empty(),
        "a note is not a message"
    );

    for (from, to, text) in [
        (a.id, b.id, "one"),
        (b.id, a.id, "two"),
        (a.id, c.id, "other"),
        (a.id, b.id, "three"),
    ] {
        s.add_team_message(from, to, text).await.unwrap();
    }
    let texts = |v: Vec<StaffText>| v.into_iter().map(|m| m.text).collect::<Vec<_>>();
    assert_eq!(
        texts(s.team_messages(b.id, a.id, 10).await.unwrap()),
        ["one", "two", "three"]
    );
    assert_eq!(
        texts(s.team_messages(a.id, b.id, 2).await.unwrap()),
        ["two", "three"],
        "the newest, oldest first"
    );
}

async fn a_corrupt_row_is_an_error_not_a_default(db: &TestDb) {
    let s = db.store().await;
    with_conversation(&s).await;
    sqlx::query("UPDATE conversations SET created_at = 'yesterday' WHERE id = 'c1'")
        .execute(&s.pool)
        .await
        .unwrap();
    assert!(matches!(
        s.conversation(&c1()).await,
        Err(StoreError::Backend(_))
    ));
}

async fn the_audit_chain_holds_and_shows_where_it_was_broken(db: &TestDb) {
    let s = db.store().await;
    let ana = s.create_user(new_user("ana")).await.unwrap();
    assert_eq!(
        s.verify_audit().await.unwrap(),
        AuditVerdict {
            entries: 0,
            broken: None
        }
    );
    for (action, subject) in [
        ("login", ""),
        ("read", "c1"),
        ("close", "c1"),
        ("logout", ""),
    ] {
        s.audit(
            NewAudit::new(Some(ana.id), action, subject, "").from_address(Some("10.0.0.5".into())),
        )
        .await
        .unwrap();
    }
    // Entries written through a unit of work are sealed into the same chain.
    s.commit(UnitOfWork::new().audit(NewAudit::new(None, "offer_expired", "c1", "")))
        .await
        .unwrap();
    assert_eq!(
        s.verify_audit().await.unwrap(),
        AuditVerdict {
            entries: 5,
            broken: None
        }
    );
    assert_eq!(s.audit_log(1).await.unwrap()[0].action, "offer_expired");
    assert_eq!(
        s.audit_log(5).await.unwrap()[4].address.as_deref(),
        Some("10.0.0.5")
    );

    // Someone with the database but not the key rewrites who read c1.
    sqlx::query("UPDATE audit SET actor_id = NULL WHERE action = 'read'")
        .execute(&s.pool)
        .await
        .unwrap();
    let verdict = s.verify_audit().await.unwrap();
    assert_eq!(verdict.broken.map(|b| b.0), Some(AuditId(2)));
    assert_eq!(verdict.entries, 2);
    sqlx::query("UPDATE audit SET actor_id = $1 WHERE action = 'read'")
        .bind(ana.id.0)
        .execute(&s.pool)
        .await
        .unwrap();
    assert_eq!(
        s.verify_audit().await.unwrap().broken,
        None,
        "put back, it holds"
    );

    // Removing an entry breaks the one after it.
    sqlx::query("DELETE FROM audit WHERE action = 'close'")
        .execute(&s.pool)
        .await
        .unwrap();
    assert_eq!(
        s.verify_audit().await.unwrap().broken.map(|b| b.0),
        Some(AuditId(4))
    );
}

async fn another_key_does_not_verify_and_an_old_trail_is_sealed_once(db: &TestDb) {
    {
        let s = db.store().await;
        s.audit(NewAudit::new(None, "login", "", "")).await.unwrap();
        // As an older version left it: entries without seals.
        s.audit(NewAudit::new(None, "logout", "", ""))
            .await
            .unwrap();
        sqlx::query("UPDATE audit SET mac = NULL")
            .execute(&s.pool)
            .await
            .unwrap();
        assert_eq!(
            s.verify_audit().await.unwrap().broken.map(|b| b.0),
            Some(AuditId(1))
        );
        s.pool.close().await;
    }
    // The next start seals them, once.
    let s = db.store().await;
    assert_eq!(s.verify_audit().await.unwrap().broken, None);
    s.audit(NewAudit::new(None, "login", "", "")).await.unwrap();
    sqlx::query("UPDATE audit SET mac = NULL WHERE id = 3")
        .execute(&s.pool)
        .await
        .unwrap();
    s.pool.close().await;
    let s = db.store().await;
    assert_eq!(
        s.verify_audit().await.unwrap().broken.map(|b| b.0),
        Some(AuditId(3)),
        "an unsealed entry after sealing began stays a break"
    );
    s.pool.close().await;
    let other = SqlStore::open(&db.url, AuditKey::new([8; 32]))
        .await
        .unwrap();
    assert_eq!(
        other.verify_audit().await.unwrap().broken.map(|b| b.0),
        Some(AuditId(1))
    );
    other.pool.close().await;
    #[cfg(unix)]
    if let Some(file) = db.file() {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let path = format!("{}{suffix}", file.display());
            if let Ok(meta) = std::fs::metadata(&path) {
                assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{path}");
            }
        }
        assert!(std::fs::metadata(file).is_ok());
    }
}

async fn wrong_passwords_lock_an_account_for_a_while(db: &TestDb) {
    let s = db.store().await;
    let u = s.create_user(new_user("ana")).await.unwrap();
    let at = Timestamp::from_unix;
    for n in 1..=2 {
        let after = s.login_failed(u.id, at(100), 3, 60).await.unwrap();
        assert_eq!((after.failed_logins, after.locked_at(at(100))), (n, false));
    }
    // A good login starts the count again.
    s.login_succeeded(u.id).await.unwrap();
    for _ in 0..2 {
        s.login_failed(u.id, at(100), 3, 60).await.unwrap();
    }
    let locked = s.login_failed(u.id, at(100), 3, 60).await.unwrap();
    assert_eq!(locked.locked_until, Some(at(160)));
    assert!(locked.locked_at(at(159)) && !locked.locked_at(at(160)));
    // After the lock runs out, one more wrong password does not lock again.
    let after = s.login_failed(u.id, at(200), 3, 60).await.unwrap();
    assert_eq!((after.failed_logins, after.locked_until), (1, None));
    for _ in 0..2 {
        s.login_failed(u.id, at(200), 3, 60).await.unwrap();
    }
    assert!(s.user(u.id).await.unwrap().locked_at(at(201)));
    let unlocked = s
        .update_user(
            u.id,
            UserUpdate {
                unlock: true,
                ..UserUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((unlocked.failed_logins, unlocked.locked_until), (0, None));
}

#[tokio::test]
async fn the_accounts_migration_keeps_every_row_and_reference() {
    use sqlx::migrate::Migrator;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    {
        // A database as the version before left it: migrations 1 to 5.
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let all = sqlx::migrate!("./migrations");
        let before = Migrator {
            migrations: std::borrow::Cow::Owned(all.migrations[..5].to_vec()),
            ..all
        };
        before.run(&pool).await.unwrap();
        for statement in [
            "INSERT INTO users (id, username, display_name, role, password_hash, created_at)
             VALUES (7, 'ana', 'Ana', 'admin', 'h', '2026-01-01T00:00:00Z')",
            "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ('t', 7, 99999999999)",
            "INSERT INTO conversations (id, resume_hash, state, assigned_to, created_at, updated_at)
             VALUES ('c1', 'r', 'assigned', 7, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            "INSERT INTO messages (conversation_id, sender, user_id, text, created_at)
             VALUES ('c1', 'clinician', 7, 'hello', '2026-01-01T00:00:00Z')",
            "INSERT INTO audit (at, actor_id, action) VALUES ('2026-01-01T00:00:00Z', 7, 'login')",
        ] {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
    let s = SqlStore::open(&url, key()).await.unwrap();
    let ana = s.user(UserId(7)).await.unwrap();
    assert_eq!((ana.username.as_str(), ana.role), ("ana", Role::Admin));
    assert!(ana.active());
    assert_eq!(s.messages(&c1()).await.unwrap()[0].user_id, Some(UserId(7)));
    assert_eq!(
        s.conversation(&c1()).await.unwrap().assigned_to,
        Some(UserId(7))
    );
    let broken: Vec<(String,)> = sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(&s.pool)
        .await
        .unwrap();
    assert!(broken.is_empty(), "{broken:?}");
    // References still point at the new table: ending the account's
    // sessions cascades from it, and a message for a missing user is refused.
    assert_eq!(s.end_sessions(UserId(7)).await.unwrap(), 1);
    assert!(
        sqlx::query(
            "INSERT INTO messages (conversation_id, sender, user_id, text, created_at)
             VALUES ('c1', 'clinician', 99, 'x', '2026-01-01T00:00:00Z')"
        )
        .execute(&s.pool)
        .await
        .is_err()
    );
    let schema: String =
        sqlx::query_scalar("SELECT sql FROM sqlite_schema WHERE name = 'messages'")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert!(schema.contains("REFERENCES users"), "{schema}");
    assert!(!schema.contains("users_old"), "{schema}");
    // The trail from before is sealed at this first start.
    assert_eq!(
        s.verify_audit().await.unwrap(),
        AuditVerdict {
            entries: 1,
            broken: None
        }
    );
    // An auditor can now be stored.
    let mut otto = new_user("otto");
    otto.role = Role::Auditor;
    assert_eq!(s.create_user(otto).await.unwrap().role, Role::Auditor);
}

async fn every_clinician_a_conversation_was_assigned_to_is_remembered(db: &TestDb) {
    let s = db.store().await;
    let a = s.create_user(new_user("ana")).await.unwrap();
    let b = s.create_user(new_user("ben")).await.unwrap();
    with_conversation(&s).await;
    assert!(!s.has_held(&c1(), a.id).await.unwrap());
    let assign = |u: Option<UserId>| ConvUpdate {
        assigned_to: Some(u),
        ..ConvUpdate::default()
    };
    s.update_conversation(&c1(), assign(Some(a.id)))
        .await
        .unwrap();
    // A transfer through a unit of work, then back to the queue.
    s.commit(UnitOfWork::new().update_conversation(&c1(), assign(Some(b.id))))
        .await
        .unwrap();
    s.update_conversation(&c1(), assign(None)).await.unwrap();
    assert!(s.has_held(&c1(), a.id).await.unwrap());
    assert!(s.has_held(&c1(), b.id).await.unwrap());
    let c = s.create_user(new_user("cy")).await.unwrap();
    assert!(!s.has_held(&c1(), c.id).await.unwrap());
}

async fn the_audit_trail_is_filtered_by_who_what_on_what_and_when(db: &TestDb) {
    let s = db.store().await;
    let a = s.create_user(new_user("ana")).await.unwrap();
    let b = s.create_user(new_user("ben")).await.unwrap();
    for (who, action, subject) in [
        (a.id, "read", "c1"),
        (b.id, "read", "c2"),
        (a.id, "take", "c1"),
        (b.id, "break_glass", "c1"),
        (a.id, "read", "c3"),
    ] {
        s.audit(NewAudit::new(Some(who), action, subject, ""))
            .await
            .unwrap();
    }
    let ids = |v: Vec<AuditEntry>| v.into_iter().map(|e| e.id.0).collect::<Vec<_>>();
    let find = |f: AuditFilter| {
        let s = &s;
        async move {
            ids(s
                .audit_search(&AuditFilter { limit: 100, ..f })
                .await
                .unwrap())
        }
    };
    assert_eq!(find(AuditFilter::default()).await, [5, 4, 3, 2, 1]);
    assert_eq!(
        find(AuditFilter {
            actor: Some(a.id),
            ..AuditFilter::default()
        })
        .await,
        [5, 3, 1]
    );
    assert_eq!(
        find(AuditFilter {
            actor: Some(a.id),
            action: Some("read".into()),
            ..AuditFilter::default()
        })
        .await,
        [5, 1]
    );
    assert_eq!(
        find(AuditFilter {
            subject: Some("c1".into()),
            ..AuditFilter::default()
        })
        .await,
        [4, 3, 1]
    );
    assert_eq!(
        find(AuditFilter {
            before: Some(AuditId(3)),
            ..AuditFilter::default()
        })
        .await,
        [2, 1]
    );
    let now = Timestamp::now();
    assert_eq!(
        find(AuditFilter {
            until: Some(now.plus_secs(-3600)),
            ..AuditFilter::default()
        })
        .await,
        Vec::<i64>::new()
    );
    assert_eq!(
        find(AuditFilter {
            since: Some(now.plus_secs(-3600)),
            ..AuditFilter::default()
        })
        .await
        .len(),
        5
    );
    assert_eq!(s.audit_log(2).await.unwrap().len(), 2);
}

mod vault {
    use super::*;
    use crate::envelope::{Keyring, MasterKey};

    on_both!(
        originals_are_sealed_on_disk_and_shredding_leaves_nothing_that_opens,
        a_rotation_moves_every_data_key_to_the_new_master_key,
        a_form_is_sealed_opens_for_those_who_ask_and_is_shredded_with_its_chat,
        a_file_is_sealed_on_disk_shown_by_its_message_and_shredded_with_its_chat,
        a_store_without_a_vault_keeps_no_files,
        a_store_without_a_vault_keeps_a_form_redacted_only,
        a_store_without_a_vault_keeps_no_originals,
    );

    const SECRET: &str = "Zelda Quartermaine";

    fn message(conversation: &ConversationId) -> NewMessage {
        let mut m = NewMessage::plain(
            conversation.clone(),
            Sender::Patient,
            None,
            "my name is [NAME]".into(),
        );
        m.original = Some(format!("my name is {SECRET}"));
        m
    }

    /// Whether any file of a SQLite database (main, vault, their logs)
    /// holds `needle`.
    fn in_files(db: &std::path::Path, needle: &[u8]) -> Vec<String> {
        let mut found = Vec::new();
        for suffix in ["", "-wal", ".vault", ".vault-wal"] {
            let path = format!("{}{suffix}", db.display());
            if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                found.push(path);
            }
        }
        found
    }

    /// Where the database holds `needle`: on SQLite, which of its files
    /// (the bytes on disk, free pages and logs included); on PostgreSQL,
    /// which tables of the main and vault schemas hold it in a row, as text
    /// or as bytes (what a dump of the database would show).
    async fn held(db: &TestDb, s: &SqlStore, needle: &[u8]) -> Vec<String> {
        if let Some(file) = db.file() {
            return in_files(&file, needle);
        }
        let tables: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_schema::text, table_name::text FROM information_schema.tables \
             WHERE table_schema IN ('public', 'vault') AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&s.pool)
        .await
        .unwrap();
        assert!(tables.len() > 20, "{tables:?}");
        let hex: String = needle.iter().map(|b| format!("{b:02x}")).collect();
        // As text too when it is text (a row's text shows bytes as hex).
        let text = match std::str::from_utf8(needle) {
            Ok(t) if !t.contains('\0') => t.to_string(),
            _ => hex.clone(),
        };
        let mut found = Vec::new();
        for (schema, table) in tables {
            let hits: i64 = sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM {schema}.{table} t \
                 WHERE position($1 in t::text) > 0 OR position($2 in t::text) > 0"
            ))
            .bind(&text)
            .bind(&hex)
            .fetch_one(&s.pool)
            .await
            .unwrap();
            if hits > 0 {
                found.push(format!("{schema}.{table}"));
            }
        }
        found
    }

    async fn originals_are_sealed_on_disk_and_shredding_leaves_nothing_that_opens(db: &TestDb) {
        let ring = Keyring::new(vec![MasterKey::random()]).unwrap();
        let s = db.store_with_vault(ring.clone()).await;
        s.create_conversation(NewConversation::new(c1(), "r1"))
            .await
            .unwrap();
        let stored = s.add_message(message(&c1())).await.unwrap();
        assert_eq!(stored.text, "my name is [NAME]");
        let originals = s.originals(&c1()).await.unwrap();
        assert_eq!(originals[&stored.id], format!("my name is {SECRET}"));
        s.checkpoint().await.unwrap();
        assert!(held(db, &s, SECRET.as_bytes()).await.is_empty());

        // A copy of the main database taken now (a backup before the
        // deletion; SQLite's file), and the wrapped key as the vault holds
        // it.
        let before = db.file().map(|file| {
            let before = file.with_file_name("before.db");
            std::fs::copy(&file, &before).unwrap();
            before
        });
        let wrapped: Vec<u8> = sqlx::query_scalar("SELECT wrapped FROM vault.data_keys")
            .fetch_one(&s.pool)
            .await
            .unwrap();
        let sealed: Vec<u8> = sqlx::query_scalar("SELECT original FROM messages")
            .fetch_one(&s.pool)
            .await
            .unwrap();
        assert!(!held(db, &s, &wrapped).await.is_empty());
        assert!(!held(db, &s, &sealed).await.is_empty());

        s.delete_conversation(
            &c1(),
            Some(NewAudit::new(None, "conversation_delete", "c1", "")),
        )
        .await
        .unwrap();
        assert!(matches!(
            s.conversation(&c1()).await,
            Err(StoreError::NotFound)
        ));
        assert!(s.originals(&c1()).await.unwrap().is_empty());
        // Neither the key nor the sealed value is left.
        let left = held(db, &s, &wrapped).await;
        assert!(left.is_empty(), "{left:?}");
        let left = held(db, &s, &sealed).await;
        assert!(left.is_empty(), "{left:?}");
        // The copy still holds the sealed value, and nothing opens it: its
        // key is gone, even for the holder of the master key.
        if let Some(before) = before {
            assert!(!in_files(&before, &sealed).is_empty());
            let copy = SqlStore::open_with_vault(before.to_str().unwrap(), key(), ring)
                .await
                .unwrap();
            assert!(copy.originals(&c1()).await.unwrap().is_empty());
            assert_eq!(
                copy.messages(&c1()).await.unwrap()[0].text,
                "my name is [NAME]"
            );
        }
        assert!(matches!(
            s.delete_conversation(
                &c1(),
                Some(NewAudit::new(None, "conversation_delete", "c1", ""))
            )
            .await,
            Err(StoreError::NotFound)
        ));
    }

    async fn a_rotation_moves_every_data_key_to_the_new_master_key(db: &TestDb) {
        let (old, new) = (MasterKey::random(), MasterKey::random());
        let s = db
            .store_with_vault(Keyring::new(vec![old.clone()]).unwrap())
            .await;
        let mut ids = Vec::new();
        for i in 0..3 {
            let c = ConversationId::new(format!("c{i}"));
            s.create_conversation(NewConversation::new(c.clone(), format!("r{i}")))
                .await
                .unwrap();
            ids.push((c.clone(), s.add_message(message(&c)).await.unwrap().id));
        }
        s.set_keyring(Keyring::new(vec![old.clone(), new.clone()]).unwrap());
        assert_eq!(s.rewrap_keys().await.unwrap(), 3);
        assert_eq!(
            s.keys_by_master().await.unwrap(),
            [(new.id().to_string(), 3)]
        );
        // The old key can go: everything opens with the new one alone.
        s.set_keyring(Keyring::new(vec![new]).unwrap());
        for (c, id) in &ids {
            assert!(s.originals(c).await.unwrap()[id].contains(SECRET));
        }
        // Without the key that wrapped them, nothing opens, and says so.
        s.set_keyring(Keyring::new(vec![old]).unwrap());
        assert!(s.originals(&ids[0].0).await.is_err());
    }

    fn contact(conversation: &ConversationId) -> NewPatientForm {
        let field = |k: &str, v: &str| (k.to_string(), v.to_string());
        NewPatientForm {
            conversation_id: conversation.clone(),
            kind: FormKind::Contact,
            fields: [field("channel", "phone"), field("contact", "[PHONE]")].into(),
            original: Some([field("channel", "phone"), field("contact", SECRET)].into()),
        }
    }

    async fn a_form_is_sealed_opens_for_those_who_ask_and_is_shredded_with_its_chat(db: &TestDb) {
        let ring = Keyring::new(vec![MasterKey::random()]).unwrap();
        let s = db.store_with_vault(ring).await;
        let ana = s.create_user(new_user("ana")).await.unwrap();
        for c in [c1(), ConversationId::new("c2")] {
            s.create_conversation(NewConversation::new(c.clone(), c.as_str()))
                .await
                .unwrap();
        }
        let first = s.add_form(contact(&c1())).await.unwrap();
        // What a write answers is what is stored: redacted.
        assert_eq!(first.fields["contact"], "[PHONE]");
        assert!(!first.opened && first.done_at.is_none());
        let second = s
            .add_form(contact(&ConversationId::new("c2")))
            .await
            .unwrap();
        s.checkpoint().await.unwrap();
        assert!(held(db, &s, SECRET.as_bytes()).await.is_empty());

        let opened = s.form(first.id, true).await.unwrap();
        assert!(opened.opened);
        assert_eq!(opened.fields["contact"], SECRET);
        assert_eq!(
            s.form(first.id, false).await.unwrap().fields["contact"],
            "[PHONE]"
        );

        // Done leaves the open list, audited in the same write; reopened
        // comes back.
        let done = s
            .set_form_done(
                first.id,
                Some(ana.id),
                NewAudit::new(Some(ana.id), "contact_done", "c1", ""),
            )
            .await
            .unwrap();
        assert_eq!(done.done_by, Some(ana.id));
        assert!(done.done_at.is_some());
        let open: Vec<i64> = s
            .forms(FormKind::Contact, true, false)
            .await
            .unwrap()
            .iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(open, [second.id]);
        assert_eq!(
            s.forms(FormKind::Contact, false, false)
                .await
                .unwrap()
                .len(),
            2
        );
        assert_eq!(s.audit_log(10).await.unwrap()[0].action, "contact_done");
        s.set_form_done(
            first.id,
            None,
            NewAudit::new(Some(ana.id), "contact_reopen", "c1", ""),
        )
        .await
        .unwrap();
        assert_eq!(
            s.forms(FormKind::Contact, true, false).await.unwrap().len(),
            2
        );
        s.set_form_replied(second.id).await.unwrap();
        assert!(s.form(second.id, false).await.unwrap().replied_at.is_some());
        assert!(matches!(
            s.set_form_replied(999).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            s.set_form_done(999, None, NewAudit::new(None, "contact_done", "x", ""))
                .await,
            Err(StoreError::NotFound)
        ));

        // A consent, replaced by a later one, and deleted with the chat.
        assert_eq!(s.consent(&c1()).await.unwrap(), None);
        s.record_consent(&c1(), "v1", "en").await.unwrap();
        s.record_consent(&c1(), "v2", "es").await.unwrap();
        assert_eq!(s.consent(&c1()).await.unwrap().unwrap().0, "v2");

        // Deleting the chat deletes its form; the other stays.
        let sealed: Vec<u8> =
            sqlx::query_scalar("SELECT original FROM patient_forms WHERE id = $1")
                .bind(first.id)
                .fetch_one(&s.pool)
                .await
                .unwrap();
        s.delete_conversation(&c1(), None).await.unwrap();
        assert!(s.forms_of(&c1(), true).await.unwrap().is_empty());
        assert_eq!(s.consent(&c1()).await.unwrap(), None);
        assert!(held(db, &s, &sealed).await.is_empty());
        assert_eq!(
            s.forms_of(&ConversationId::new("c2"), true).await.unwrap()[0].fields["contact"],
            SECRET
        );
    }

    fn file(conversation: &ConversationId, data: &[u8]) -> NewFile {
        NewFile {
            conversation_id: conversation.clone(),
            sender: Sender::Patient,
            user_id: None,
            name: "[NAME] rash.jpg".into(),
            kind: "jpeg".into(),
            width: Some(48),
            height: Some(64),
            pages: None,
            scanned: true,
            data: data.to_vec(),
        }
    }

    fn file_message(conversation: &ConversationId) -> NewMessage {
        NewMessage::plain(
            conversation.clone(),
            Sender::Patient,
            None,
            "📎 [NAME] rash.jpg".into(),
        )
    }

    async fn a_file_is_sealed_on_disk_shown_by_its_message_and_shredded_with_its_chat(db: &TestDb) {
        let ring = Keyring::new(vec![MasterKey::random()]).unwrap();
        let s = db.store_with_vault(ring).await;
        let c2 = ConversationId::new("c2");
        for c in [c1(), c2.clone()] {
            s.create_conversation(NewConversation::new(c.clone(), c.as_str()))
                .await
                .unwrap();
        }
        assert!(s.keeps_files());
        let bytes = format!("pixels of {SECRET}").into_bytes();
        let audit = NewAudit::new(None, "file_upload", c1().as_str(), "file 1");
        let (meta, message) = s
            .add_file(file(&c1(), &bytes), file_message(&c1()), Some(audit))
            .await
            .unwrap();
        assert_eq!(meta.size, bytes.len() as u64);
        assert_eq!(
            (meta.width, meta.height, meta.pages),
            (Some(48), Some(64), None)
        );
        assert_eq!(message.file_id, Some(meta.id));
        assert_eq!(s.messages(&c1()).await.unwrap()[0].file_id, Some(meta.id));
        assert_eq!(s.audit_log(1).await.unwrap()[0].action, "file_upload");
        let (other, _) = s
            .add_file(file(&c2, b"another"), file_message(&c2), None)
            .await
            .unwrap();
        // A file's message must be in the file's conversation.
        assert!(
            s.add_file(file(&c1(), b"x"), file_message(&c2), None)
                .await
                .is_err()
        );
        s.checkpoint().await.unwrap();
        assert!(held(db, &s, SECRET.as_bytes()).await.is_empty());
        assert_eq!(s.file_data(meta.id).await.unwrap(), bytes);
        assert_eq!(s.file_meta(meta.id).await.unwrap(), meta);
        assert_eq!(s.files_of(&c1()).await.unwrap(), vec![meta.clone()]);

        s.delete_conversation(&c1(), None).await.unwrap();
        assert!(matches!(
            s.file_meta(meta.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            s.file_data(meta.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(s.files_of(&c1()).await.unwrap().is_empty());
        assert_eq!(s.file_data(other.id).await.unwrap(), b"another");
    }

    async fn a_store_without_a_vault_keeps_no_files(db: &TestDb) {
        let s = db.store().await;
        s.create_conversation(NewConversation::new(c1(), "r1"))
            .await
            .unwrap();
        assert!(!s.keeps_files());
        assert!(
            s.add_file(file(&c1(), b"pixels"), file_message(&c1()), None)
                .await
                .is_err()
        );
        assert!(s.messages(&c1()).await.unwrap().is_empty());
    }

    async fn a_store_without_a_vault_keeps_a_form_redacted_only(db: &TestDb) {
        let s = db.store().await;
        s.create_conversation(NewConversation::new(c1(), "r1"))
            .await
            .unwrap();
        let form = s.add_form(contact(&c1())).await.unwrap();
        let read = s.form(form.id, true).await.unwrap();
        assert!(!read.opened);
        assert_eq!(read.fields["contact"], "[PHONE]");
    }

    async fn a_store_without_a_vault_keeps_no_originals(db: &TestDb) {
        let s = db.store().await;
        s.create_conversation(NewConversation::new(c1(), "r1"))
            .await
            .unwrap();
        s.add_message(message(&c1())).await.unwrap();
        assert!(s.originals(&c1()).await.unwrap().is_empty());
        let kept: Option<Vec<u8>> = sqlx::query_scalar("SELECT original FROM messages")
            .fetch_one(&s.pool)
            .await
            .unwrap();
        assert!(kept.is_none());
    }
}

fn canned(owner: Option<UserId>, title: &str) -> NewCannedReply {
    NewCannedReply {
        owner,
        language: "en".into(),
        title: title.into(),
        body: format!("{title}, from {{clinic}}"),
    }
}

async fn canned_replies_are_shared_or_ones_own_and_the_most_used_come_first(db: &TestDb) {
    let s = db.store().await;
    let ana = s.create_user(new_user("ana")).await.unwrap();
    let bob = s.create_user(new_user("bob")).await.unwrap();
    let hours = s.add_canned_reply(canned(None, "Hours")).await.unwrap();
    let mine = s
        .add_canned_reply(canned(Some(ana.id), "Ana's sign-off"))
        .await
        .unwrap();
    let bobs = s
        .add_canned_reply(canned(Some(bob.id), "Bob's sign-off"))
        .await
        .unwrap();
    let titles = |list: Vec<CannedReply>| list.into_iter().map(|r| r.title).collect::<Vec<_>>();
    // Unused, by title; nobody sees another clinician's own.
    assert_eq!(
        titles(s.canned_replies(ana.id).await.unwrap()),
        ["Ana's sign-off", "Hours"]
    );
    s.use_canned_reply(hours.id, ana.id).await.unwrap();
    s.use_canned_reply(hours.id, ana.id).await.unwrap();
    s.use_canned_reply(mine.id, ana.id).await.unwrap();
    let list = s.canned_replies(ana.id).await.unwrap();
    assert_eq!(titles(list.clone()), ["Hours", "Ana's sign-off"]);
    assert_eq!(list[0].uses, 2);
    // Uses are counted per clinician.
    assert_eq!(s.canned_reply(hours.id, bob.id).await.unwrap().uses, 0);
    assert_eq!(
        titles(s.canned_replies(bob.id).await.unwrap()),
        ["Bob's sign-off", "Hours"]
    );
    s.update_canned_reply(hours.id, canned(None, "Opening hours"))
        .await
        .unwrap();
    assert_eq!(
        s.canned_reply(hours.id, ana.id).await.unwrap().title,
        "Opening hours"
    );
    s.delete_canned_reply(bobs.id).await.unwrap();
    assert!(matches!(
        s.delete_canned_reply(bobs.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.use_canned_reply(bobs.id, bob.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn activity_counts_a_chat_once_and_outlives_the_chat(db: &TestDb) {
    let s = db.store().await;
    let conv = with_conversation(&s).await;
    let at = Timestamp::from_unix;
    let event = |t: i64, kind| NewActivity::new(at(t), kind, &conv.id);
    assert!(
        s.record_activity(event(100, ActivityKind::Chat))
            .await
            .unwrap()
    );
    assert!(
        !s.record_activity(event(110, ActivityKind::Chat))
            .await
            .unwrap()
    );
    // Left as a message once, however often the router lets it go.
    let left = [
        s.record_activity(event(115, ActivityKind::LeftMessage))
            .await
            .unwrap(),
        s.record_activity(event(116, ActivityKind::LeftMessage))
            .await
            .unwrap(),
    ];
    assert_eq!(left, [true, false]);
    assert!(
        s.record_activity(event(120, ActivityKind::Escalated))
            .await
            .unwrap()
    );
    assert!(
        s.record_activity(event(130, ActivityKind::Urgent))
            .await
            .unwrap()
    );
    assert!(
        s.record_activity(event(140, ActivityKind::Escalated))
            .await
            .unwrap()
    );
    assert_eq!(
        s.first_activity(&conv.id, &[ActivityKind::Urgent, ActivityKind::Escalated])
            .await
            .unwrap(),
        Some(at(120))
    );
    assert_eq!(
        s.first_activity(&conv.id, &[ActivityKind::FirstReply])
            .await
            .unwrap(),
        None
    );
    s.delete_conversation(&conv.id, None).await.unwrap();
    let kept = s.activity(at(100), at(141)).await.unwrap();
    let kinds: Vec<_> = kept.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [
            ActivityKind::Chat,
            ActivityKind::LeftMessage,
            ActivityKind::Escalated,
            ActivityKind::Urgent,
            ActivityKind::Escalated
        ]
    );
    // The window's end is excluded; the counts no longer point at the chat.
    assert_eq!(s.activity(at(100), at(140)).await.unwrap().len(), 4);
    assert_eq!(
        s.first_activity(&conv.id, &[ActivityKind::Escalated])
            .await
            .unwrap(),
        None
    );
}

on_both!(routing_leases_are_taken_in_turn_and_carry_newer_state);

/// PostgreSQL: one lease at a time across connections, the state handed
/// over only to a caller whose copy is older, versions counting up. SQLite
/// refuses: one process keeps its routing in memory.
async fn routing_leases_are_taken_in_turn_and_carry_newer_state(db: &TestDb) {
    let s = std::sync::Arc::new(db.store().await);
    if db.file().is_some() {
        assert!(s.lease_routing(0).await.is_err());
        assert!(s.node_seen("a", Timestamp::from_unix(1)).await.is_err());
        return;
    }
    let first = s.lease_routing(0).await.unwrap();
    assert_eq!((first.version, first.state.as_deref()), (0, None));
    // A second taker waits for the first to release.
    let other = s.clone();
    let second = tokio::spawn(async move { other.lease_routing(0).await.unwrap() });
    tokio::task::yield_now().await;
    assert!(!second.is_finished());
    assert_eq!(
        first.lease.release(Some("{\"a\":1}".into())).await.unwrap(),
        1
    );
    let second = second.await.unwrap();
    assert_eq!(
        (second.version, second.state.as_deref()),
        (1, Some("{\"a\":1}"))
    );
    // Released unchanged: the version stays.
    assert_eq!(second.lease.release(None).await.unwrap(), 1);
    let third = s.lease_routing(1).await.unwrap();
    assert_eq!(
        (third.version, third.state.as_deref()),
        (1, None),
        "already known"
    );
    drop(third);
    // Dropped without release: the lock is free again.
    let fourth = s.lease_routing(1).await.unwrap();
    assert_eq!(
        fourth
            .lease
            .release(Some("{\"a\":2}".into()))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.routing_state().await.unwrap(),
        Some((2, "{\"a\":2}".to_string()))
    );

    s.node_seen("a", Timestamp::from_unix(10)).await.unwrap();
    s.node_seen("b", Timestamp::from_unix(11)).await.unwrap();
    s.node_seen("a", Timestamp::from_unix(12)).await.unwrap();
    assert_eq!(
        s.nodes().await.unwrap(),
        [
            ("a".to_string(), Timestamp::from_unix(12)),
            ("b".to_string(), Timestamp::from_unix(11))
        ]
    );
    s.forget_node("a").await.unwrap();
    assert_eq!(s.nodes().await.unwrap().len(), 1);
}

on_both!(a_message_without_scores_then_one_with_them);

/// A bot's message (no confidence, no spam score) and then a patient's
/// (both): the second is stored whichever came first on the connection.
async fn a_message_without_scores_then_one_with_them(db: &TestDb) {
    let s = db.store().await;
    with_conversation(&s).await;
    for round in 0..3 {
        s.add_message(NewMessage::plain(c1(), Sender::Bot, None, "Hi".into()))
            .await
            .unwrap();
        let mut m = NewMessage::plain(c1(), Sender::Patient, None, "hours?".into());
        m.confidence = Some(0.75);
        m.spam_score = Some(0.125);
        let stored = s.add_message(m).await.unwrap();
        assert_eq!(stored.confidence, Some(0.75), "round {round}");
    }
    let all = s.messages(&c1()).await.unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].confidence, None);
    assert_eq!(all[1].confidence, Some(0.75));
}
