//! The SQLite store on `sqlite::memory:`.

use crate::*;

async fn store() -> SqliteStore {
    SqliteStore::open("sqlite::memory:").await.unwrap()
}

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

async fn with_conversation(s: &SqliteStore) -> Conversation {
    s.create_conversation(NewConversation::new(c1(), "r1"))
        .await
        .unwrap()
}

#[tokio::test]
async fn users_round_trip_and_names_are_unique() {
    let s = store().await;
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

#[tokio::test]
async fn sessions_expire() {
    let s = store().await;
    let u = s.create_user(new_user("ana")).await.unwrap();
    let at = Timestamp::from_unix;
    s.create_session("h1", u.id, at(100)).await.unwrap();
    assert_eq!(s.session_user("h1", at(99)).await.unwrap().id, u.id);
    assert!(matches!(
        s.session_user("h1", at(100)).await,
        Err(StoreError::NotFound)
    ));
    s.delete_session("h1").await.unwrap();
    assert!(matches!(
        s.session_user("h1", at(0)).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn conversations_and_messages() {
    let s = store().await;
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

#[tokio::test]
async fn a_unit_of_work_is_all_or_nothing() {
    let s = store().await;
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

#[tokio::test]
async fn blocks_match_either_identity_and_lifting_is_audited() {
    let s = store().await;
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

    let lifted = s.lift_block(b.id, admin.id).await.unwrap();
    assert_eq!(lifted.lifted_by, Some(admin.id));
    assert!(lifted.lifted_at.is_some());
    assert!(!s.is_blocked(Some("fp1"), None).await.unwrap());
    assert!(s.active_blocks().await.unwrap().is_empty());
    assert!(matches!(
        s.lift_block(b.id, admin.id).await,
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

#[tokio::test]
async fn notes_and_team_messages() {
    let s = store().await;
    let a = s.create_user(new_user("ana")).await.unwrap();
    let b = s.create_user(new_user("ben")).await.unwrap();
    let c = s.create_user(new_user("cy")).await.unwrap();
    with_conversation(&s).await;
    s.add_note(&c1(), a.id, "billing question, see [NAME]")
        .await
        .unwrap();
    let notes = s.notes(&c1()).await.unwrap();
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

#[tokio::test]
async fn a_corrupt_row_is_an_error_not_a_default() {
    let s = store().await;
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
