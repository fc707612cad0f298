//! Carechat's storage, behind traits the service talks to.
//!
//! The store owns what survives a restart: accounts and sessions,
//! conversations and their (redacted) messages, staff notes, blocks and the
//! audit trail. It is its own crate so that the conversation service depends
//! on these traits and records, never on a database engine. [`SqlStore`]
//! implements them on SQLite (the embedded default, migrations in
//! `migrations/`) and on PostgreSQL (for several nodes, migrations in
//! `migrations-postgres/`), one implementation over both ([`Engine`]).
//!
//! - Records carry typed ids ([`ids`]) and times ([`Timestamp`]), not the
//!   strings and integers a backend keeps them as.
//! - One small trait per aggregate: [`Accounts`], [`Conversations`],
//!   [`Moderation`], [`Whitelists`], [`CannedReplies`], [`Activities`] (the
//!   dashboard's counts); [`Transactions`] applies a [`UnitOfWork`]
//!   (several writes) all or nothing. [`Store`] is all seven.
//! - Errors are backend-neutral ([`StoreError`]): not found, conflict, or
//!   the backend's own failure, boxed.
//!
//! - The audit trail is a chain: each entry is sealed with an HMAC over it
//!   and the entry before it, under an [`AuditKey`] the store is handed and
//!   never writes down; [`Moderation::verify_audit`] checks the chain.
//!
//! Nothing here ever sees patient text that is not redacted: the service
//! redacts before it writes.

pub mod backup;
mod chain;
pub mod envelope;
pub mod ids;
mod records;
mod sql;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod time;
mod work;

use async_trait::async_trait;

pub use chain::{AuditKey, AuditVerdict};
pub use ids::{AuditId, BlockId, ConversationId, MessageId, StaffTextId, UserId};
pub use records::{
    Activity, ActivityKind, AuditEntry, AuditFilter, Block, BlockKind, CannedReply, ConvState,
    ConvUpdate, Conversation, FileMeta, FormFields, FormKind, Message, NewActivity, NewAudit,
    NewBlock, NewCannedReply, NewConversation, NewFile, NewMessage, NewPatientForm,
    NewPushSubscription, NewUser, NewWhitelistVersion, PatientForm, PushSubscription, ReplyLink,
    Role, Sender, StaffText, StoredTranslation, User, UserUpdate, WhitelistDraft, WhitelistVersion,
};
pub use sql::cluster::ROUTING_CHANNEL;
pub use sql::{Engine, SqlStore};
pub use time::Timestamp;
pub use work::{Committed, UnitOfWork, Write};

/// What went wrong, the same whatever the backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    Conflict,
    /// The backend failed (I/O, a corrupt row, a failed migration). The
    /// message never holds a stored text.
    #[error("storage: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Accounts and their login sessions.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// `Conflict` when the username is taken (by any account, removed ones
    /// too: the audit trail must name one person).
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    /// An account made by single sign-on, tied to the identity provider's
    /// `subject`. `Conflict` when the username or the subject is taken.
    async fn create_sso_user(&self, user: NewUser, subject: &str) -> StoreResult<User>;
    /// The account tied to an identity provider's subject.
    async fn user_by_sso_subject(&self, subject: &str) -> StoreResult<User>;
    async fn user_by_name(&self, username: &str) -> StoreResult<User>;
    async fn user(&self, id: UserId) -> StoreResult<User>;
    /// Every account, removed ones too, oldest first.
    async fn users(&self) -> StoreResult<Vec<User>>;
    /// Changes an account. A new role or password, or disabling it, ends
    /// all its sessions in the same transaction
    /// ([`UserUpdate::ends_sessions`]). `NotFound` for a removed account:
    /// removal is final.
    async fn update_user(&self, id: UserId, update: UserUpdate) -> StoreResult<User>;
    /// Removes an account for good: it is disabled, its sessions end, and
    /// its row stays for the records that name it. `NotFound` when there is
    /// no such account or it is already removed.
    async fn remove_user(&self, id: UserId) -> StoreResult<User>;

    /// Only a hash of the session token is ever handed to the store.
    async fn create_session(
        &self,
        token_hash: &str,
        user: UserId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    /// The session's user, if at `now` the session exists, has not expired,
    /// was used in the last `idle_secs` seconds, and its account is active.
    async fn session_user(
        &self,
        token_hash: &str,
        now: Timestamp,
        idle_secs: i64,
    ) -> StoreResult<User>;
    /// Counts a wrong password for `user` at `now`; at `limit` in a row the
    /// account is locked until `now + lock_secs`. The account as it now is.
    async fn login_failed(
        &self,
        user: UserId,
        now: Timestamp,
        limit: u32,
        lock_secs: i64,
    ) -> StoreResult<User>;
    /// A good login: the count of wrong passwords starts again.
    async fn login_succeeded(&self, user: UserId) -> StoreResult<()>;

    /// Records that `user` signed in with the TOTP code of `step`, if no
    /// code of that step or a later one was used before (false then): each
    /// code works once.
    async fn use_totp_step(&self, user: UserId, step: i64) -> StoreResult<bool>;
    /// The last TOTP step `user` used.
    async fn totp_last_step(&self, user: UserId) -> StoreResult<Option<i64>>;
    /// Replaces `user`'s recovery codes (only their hashes are handed over).
    async fn set_recovery_codes(&self, user: UserId, hashes: &[String]) -> StoreResult<()>;
    /// Uses up the recovery code with this hash; false if there is none
    /// unused.
    async fn use_recovery_code(&self, user: UserId, hash: &str) -> StoreResult<bool>;
    async fn recovery_codes_left(&self, user: UserId) -> StoreResult<u32>;

    /// Marks the session used at `now` (its idle time starts again).
    async fn touch_session(&self, token_hash: &str, now: Timestamp) -> StoreResult<()>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Ends every session of `user`; how many there were.
    async fn end_sessions(&self, user: UserId) -> StoreResult<u64>;
}

/// Conversations, their messages, staff notes on them, and the messages
/// clinicians write to each other.
#[async_trait]
pub trait Conversations: Send + Sync {
    async fn create_conversation(&self, new: NewConversation) -> StoreResult<Conversation>;
    async fn conversation(&self, id: &ConversationId) -> StoreResult<Conversation>;
    async fn conversation_by_resume(&self, resume_hash: &str) -> StoreResult<Conversation>;
    /// Conversations that are queued or assigned, oldest first.
    async fn open_conversations(&self) -> StoreResult<Vec<Conversation>>;
    /// Conversations not closed with a message held for staff, oldest first.
    async fn held_conversations(&self) -> StoreResult<Vec<Conversation>>;
    async fn update_conversation(
        &self,
        id: &ConversationId,
        update: ConvUpdate,
    ) -> StoreResult<Conversation>;

    /// Whether `user` has ever been assigned `conversation` (the store
    /// records every assignment).
    async fn has_held(&self, conversation: &ConversationId, user: UserId) -> StoreResult<bool>;

    async fn add_message(&self, message: NewMessage) -> StoreResult<Message>;
    /// Deletes a conversation for good: its data key first (what was
    /// sealed under it is noise from then on, in every copy), then its
    /// messages, notes and records, with `audit` in the same transaction;
    /// then the write-ahead logs are truncated, so no page of it stays
    /// there. `NotFound` when there is no such conversation.
    async fn delete_conversation(
        &self,
        id: &ConversationId,
        audit: Option<NewAudit>,
    ) -> StoreResult<()>;
    /// Every conversation's id, oldest first (an export).
    async fn conversation_ids(&self) -> StoreResult<Vec<ConversationId>>;
    /// Every conversation from the browser with this keyed id, oldest
    /// first (deleting all of one patient's chats).
    async fn conversations_of_browser(&self, fingerprint: &str) -> StoreResult<Vec<Conversation>>;
    /// Up to `limit` conversations in `state` with no change and no message
    /// since `before`, and no transcript delivery owed, oldest first
    /// (retention).
    async fn untouched_since(
        &self,
        state: ConvState,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<Conversation>>;
    /// The originals kept of a conversation's messages (the words as
    /// typed), opened; empty without a vault or once shredded.
    async fn originals(
        &self,
        conversation: &ConversationId,
    ) -> StoreResult<std::collections::HashMap<MessageId, String>>;
    /// A conversation's messages, oldest first.
    async fn messages(&self, conversation: &ConversationId) -> StoreResult<Vec<Message>>;

    /// A one-time link to the patient's copy of `conversation`'s
    /// transcript: only the token's hash is handed over.
    async fn create_transcript_link(
        &self,
        token_hash: &str,
        conversation: &ConversationId,
        by: UserId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    /// Uses up the link with this hash at `now`: its conversation, when
    /// the link exists, was never used and has not expired; `NotFound`
    /// otherwise.
    async fn use_transcript_link(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<ConversationId>;
    /// Ephemeral mode: when the next delivery of the conversation's
    /// transcript is due (`None`: none is owed), and the attempts so far.
    async fn set_delivery(
        &self,
        id: &ConversationId,
        due: Option<Timestamp>,
        attempts: u32,
    ) -> StoreResult<()>;
    /// Up to `limit` conversations whose transcript delivery is due at
    /// `now`, with the attempts so far, the longest due first.
    async fn deliveries_due(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<(ConversationId, u32)>>;

    /// Adds a staff-only note (`text` already redacted), with its words as
    /// typed when they differ, sealed as a message's are.
    async fn add_note(
        &self,
        conversation: &ConversationId,
        user: UserId,
        text: &str,
        original: Option<&str>,
    ) -> StoreResult<StaffText>;
    /// A conversation's notes, oldest first; with their originals opened
    /// when `originals` (and a vault holds the key).
    async fn notes(
        &self,
        conversation: &ConversationId,
        originals: bool,
    ) -> StoreResult<Vec<StaffText>>;
    /// A message from one clinician to another (already redacted).
    async fn add_team_message(
        &self,
        from: UserId,
        to: UserId,
        text: &str,
    ) -> StoreResult<StaffText>;
    /// Both directions between two clinicians, oldest first, the last `limit`.
    async fn team_messages(&self, a: UserId, b: UserId, limit: u32) -> StoreResult<Vec<StaffText>>;
}

/// Blocked senders and the audit trail of what staff did.
#[async_trait]
pub trait Moderation: Send + Sync {
    /// Records a block and its audit line together. `Conflict` when an
    /// active block of the same kind already matches the same value.
    async fn block(&self, block: NewBlock) -> StoreResult<Block>;
    /// Lifts an active block (and audits it); `NotFound` if there is no such
    /// active block.
    /// `address` is the admin's own, for the audit line.
    async fn lift_block(
        &self,
        id: BlockId,
        by: UserId,
        address: Option<String>,
    ) -> StoreResult<Block>;
    /// Active blocks, newest first.
    async fn active_blocks(&self) -> StoreResult<Vec<Block>>;
    /// Distinct browser fingerprints that have opened a conversation from
    /// `address`.
    async fn browsers_at(&self, address: &str) -> StoreResult<u64>;
    /// Whether an active block matches either identity.
    async fn is_blocked(
        &self,
        fingerprint: Option<&str>,
        address: Option<&str>,
    ) -> StoreResult<bool>;

    /// Appends a line to the audit trail, sealed to the one before it
    /// ([`AuditKey`]).
    async fn audit(&self, entry: NewAudit) -> StoreResult<()>;
    /// The newest `limit` audit lines, newest first.
    async fn audit_log(&self, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.audit_search(&AuditFilter {
            limit,
            ..AuditFilter::default()
        })
        .await
    }
    /// The audit lines `filter` matches, newest first.
    async fn audit_search(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;
    /// Checks every seal of the audit trail, oldest first, under the
    /// store's key.
    async fn verify_audit(&self) -> StoreResult<AuditVerdict>;
}

/// The intent whitelist's versions: one live, earlier ones to go back to,
/// and a draft being edited.
#[async_trait]
pub trait Whitelists: Send + Sync {
    /// The live version; `None` before any was stored.
    async fn live_whitelist(&self) -> StoreResult<Option<WhitelistVersion>>;
    async fn whitelist_version(&self, id: i64) -> StoreResult<WhitelistVersion>;
    /// Every version, newest first, without its files.
    async fn whitelist_versions(&self) -> StoreResult<Vec<WhitelistVersion>>;
    /// Adds a version and makes it live, and clears the draft, with
    /// `audit` (its subject becomes `version:<id>`), all in one transaction.
    async fn publish_whitelist(
        &self,
        new: NewWhitelistVersion,
        audit: Option<NewAudit>,
    ) -> StoreResult<WhitelistVersion>;
    /// Makes an earlier version live again, with `audit`.
    async fn set_live_whitelist(&self, id: i64, audit: NewAudit) -> StoreResult<WhitelistVersion>;
    async fn whitelist_draft(&self) -> StoreResult<Option<WhitelistDraft>>;
    async fn save_whitelist_draft(&self, draft: &WhitelistDraft) -> StoreResult<()>;
    async fn discard_whitelist_draft(&self) -> StoreResult<()>;
}

/// Canned replies: shared ones and each clinician's own, and how often
/// each clinician used each.
#[async_trait]
pub trait CannedReplies: Send + Sync {
    /// The shared replies and `user`'s own, with `user`'s use counts.
    async fn canned_replies(&self, user: UserId) -> StoreResult<Vec<CannedReply>>;
    /// One reply, with `user`'s use count.
    async fn canned_reply(&self, id: i64, user: UserId) -> StoreResult<CannedReply>;
    async fn add_canned_reply(&self, new: NewCannedReply) -> StoreResult<CannedReply>;
    /// Changes a reply's language, title and body (its owner stays).
    async fn update_canned_reply(&self, id: i64, new: NewCannedReply) -> StoreResult<()>;
    async fn delete_canned_reply(&self, id: i64) -> StoreResult<()>;
    /// Counts one use of the reply by `user`.
    async fn use_canned_reply(&self, id: i64, user: UserId) -> StoreResult<()>;
}

/// The dashboard's events: counts and durations, no text.
#[async_trait]
pub trait Activities: Send + Sync {
    /// Records an event. A chat's start, its being left as a message and
    /// its first reply are recorded once: `false` when it already was.
    async fn record_activity(&self, new: NewActivity) -> StoreResult<bool>;
    /// When the conversation first had an event of one of `kinds`.
    async fn first_activity(
        &self,
        conversation: &ConversationId,
        kinds: &[ActivityKind],
    ) -> StoreResult<Option<Timestamp>>;
    /// Every event from `from` (included) to `to` (excluded), oldest first.
    async fn activity(&self, from: Timestamp, to: Timestamp) -> StoreResult<Vec<Activity>>;
}

/// What patients filled in besides chatting (the offline contact form),
/// sealed like their messages' originals.
#[async_trait]
pub trait PatientForms: Send + Sync {
    async fn add_form(&self, form: NewPatientForm) -> StoreResult<PatientForm>;
    /// One form; its values as typed when `open` (and they were kept).
    async fn form(&self, id: i64, open: bool) -> StoreResult<PatientForm>;
    /// Forms of `kind`, oldest first: only those not yet done when
    /// `open_only`. Values as typed when `open`.
    async fn forms(
        &self,
        kind: FormKind,
        open_only: bool,
        open: bool,
    ) -> StoreResult<Vec<PatientForm>>;
    /// A conversation's forms, oldest first.
    async fn forms_of(
        &self,
        conversation: &ConversationId,
        open: bool,
    ) -> StoreResult<Vec<PatientForm>>;
    /// Marks a form done by `user` (`None`: open again), with its audit line.
    async fn set_form_done(
        &self,
        id: i64,
        done_by: Option<UserId>,
        audit: NewAudit,
    ) -> StoreResult<PatientForm>;
    /// Records that staff answered it through the patient's channel.
    async fn set_form_replied(&self, id: i64) -> StoreResult<()>;
    /// Keeps a link to the answer to a form (its token's hash).
    async fn add_reply_link(
        &self,
        token_hash: &str,
        form: i64,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    async fn reply_link(&self, token_hash: &str) -> StoreResult<ReplyLink>;
    /// Sets the link's one-time code (its hash) and when it stops working.
    /// Wrong codes keep counting across codes: a new code is no new chance
    /// to guess.
    async fn set_reply_code(
        &self,
        token_hash: &str,
        code_hash: &str,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    /// Counts a wrong code; how many in a row now.
    async fn reply_code_failed(&self, token_hash: &str) -> StoreResult<u32>;
    async fn delete_reply_link(&self, token_hash: &str) -> StoreResult<()>;
    /// Records that the patient accepted the consent text `version` (shown
    /// in `language`); a later acceptance replaces it.
    async fn record_consent(
        &self,
        conversation: &ConversationId,
        version: &str,
        language: &str,
    ) -> StoreResult<()>;
    /// The version the conversation's patient accepted, and when.
    async fn consent(
        &self,
        conversation: &ConversationId,
    ) -> StoreResult<Option<(String, Timestamp)>>;
}

/// Files shared in a conversation, sealed under its data key.
#[async_trait]
pub trait SharedFiles: Send + Sync {
    /// Whether files can be kept here at all: only sealed, so only with a
    /// vault.
    fn keeps_files(&self) -> bool;
    /// Stores `file` sealed, the message that shows it (its `file_id`
    /// set), and `audit`, in one write. Refused by a store without a vault.
    async fn add_file(
        &self,
        file: NewFile,
        message: NewMessage,
        audit: Option<NewAudit>,
    ) -> StoreResult<(FileMeta, Message)>;
    async fn file_meta(&self, id: i64) -> StoreResult<FileMeta>;
    /// The file's bytes, opened; `NotFound` once its conversation is
    /// shredded.
    async fn file_data(&self, id: i64) -> StoreResult<Vec<u8>>;
    /// A conversation's files, oldest first.
    async fn files_of(&self, conversation: &ConversationId) -> StoreResult<Vec<FileMeta>>;
}

/// Staff's Web Push subscriptions.
#[async_trait]
pub trait PushSubscriptions: Send + Sync {
    /// Keeps a subscription; an endpoint already kept is taken over (its
    /// keys and account replaced).
    async fn add_push_subscription(&self, s: NewPushSubscription) -> StoreResult<()>;
    /// Forgets the subscription at `endpoint` (only `user`'s, when given);
    /// whether there was one.
    async fn remove_push_subscription(
        &self,
        user: Option<UserId>,
        endpoint: &str,
    ) -> StoreResult<bool>;
    async fn push_subscriptions(&self) -> StoreResult<Vec<PushSubscription>>;
    async fn push_subscriptions_of(&self, user: UserId) -> StoreResult<Vec<PushSubscription>>;
}

/// Several writes that must all happen or none (an assignment and its
/// system message and audit line, say).
#[async_trait]
pub trait Transactions: Send + Sync {
    /// Applies `work` in order, all or nothing. The records written come
    /// back in the same order.
    async fn commit(&self, work: UnitOfWork) -> StoreResult<Committed>;
}

/// Several nodes serving one clinic on one database (PostgreSQL): the
/// router's state, which they share and change one at a time, and which
/// nodes are alive. A SQLite store refuses these: it serves one process.
#[async_trait]
pub trait Coordination: Send + Sync {
    /// Waits until no other node (nor any other caller here) holds the
    /// routing lease, and takes it: held until [`Lease::release`], or
    /// released unchanged if dropped. The stored state comes with it when
    /// its version is not `known` (the caller's copy is out of date).
    async fn lease_routing(&self, known: i64) -> StoreResult<Leased>;
    /// The stored routing state and its version, without the lease.
    async fn routing_state(&self) -> StoreResult<Option<(i64, String)>>;
    /// Records that `node` is alive at `at`.
    async fn node_seen(&self, node: &str, at: Timestamp) -> StoreResult<()>;
    /// Every node recorded, and when each was last seen.
    async fn nodes(&self) -> StoreResult<Vec<(String, Timestamp)>>;
    /// Forgets a node (one gone for good).
    async fn forget_node(&self, node: &str) -> StoreResult<()>;
}

/// A routing lease ([`Coordination::lease_routing`]).
pub struct Leased {
    /// The version stored when the lease was taken (0: none yet).
    pub version: i64,
    /// The state stored, when its version is not the one the caller knew.
    pub state: Option<String>,
    pub lease: Box<dyn Lease>,
}

/// Held while one node changes the routing state.
#[async_trait]
pub trait Lease: Send {
    /// Ends the lease, storing `state` as the next version when given
    /// (and telling the other nodes); the version stored now.
    async fn release(self: Box<Self>, state: Option<String>) -> StoreResult<i64>;
}

/// The whole store: what the service is given.
pub trait Store:
    Accounts
    + Conversations
    + Moderation
    + Transactions
    + Whitelists
    + CannedReplies
    + Activities
    + PatientForms
    + SharedFiles
    + PushSubscriptions
    + 'static
{
}

impl<
    T: Accounts
        + Conversations
        + Moderation
        + Transactions
        + Whitelists
        + CannedReplies
        + Activities
        + PatientForms
        + SharedFiles
        + PushSubscriptions
        + 'static,
> Store for T
{
}
