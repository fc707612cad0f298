//! What a request to the conversation core can come to, besides success.
//! The HTTP edge maps each to a status and a stable code; the patient's
//! socket to an `error` frame.

use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("the message is too long")]
    TooLong,
    /// The models are still loading, or their queues are full.
    #[error("the server is busy; try again in a moment")]
    Busy,
    /// An admin blocked the patient's browser or address.
    #[error("blocked")]
    SenderBlocked,
    /// The conversation is not the user's to see: opening it needs a
    /// stated reason (break-glass), which is audited.
    #[error(
        "this chat is not yours: state a reason to open it (it is recorded, and admins are told)"
    )]
    BreakGlassRequired,
    /// Too many wrong passwords: logins to the account are refused for
    /// `retry_after_secs` (or until an admin unlocks it).
    #[error("too many wrong passwords; try again later or ask an admin to unlock the account")]
    Locked { retry_after_secs: u64 },
    /// Too many requests of a kind from one place; try again after
    /// `retry_after_secs`.
    #[error("too many requests; try again in a moment")]
    RateLimited { retry_after_secs: u64 },
    /// The clinic asks patients to accept its consent text before their
    /// first message ([`crate::consent`]).
    #[error("please read and accept the note above before writing")]
    ConsentRequired,
    /// A file that cannot be shared: its type, its size in pixels, or it
    /// cannot be read ([`crate::files`]); the message says which.
    #[error("{0}")]
    FileRefused(String),
    /// A file over the clinic's size limit.
    #[error("{0}")]
    FileTooLarge(String),
    /// The clinic's virus scanner found something in the file.
    #[error("the virus scanner found a threat in this file, so it was not sent")]
    FileInfected,
    /// Files cannot be checked for viruses now, so none is taken.
    #[error(
        "files cannot be checked for viruses right now, so they cannot be sent; please try again later"
    )]
    ScannerUnavailable,
    /// Never carries message text.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ServiceError {
    /// A stable code for clients (the HTTP API's `error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::BadRequest(_) => "bad_request",
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::TooLong => "too_long",
            ServiceError::Busy => "busy",
            ServiceError::SenderBlocked => "sender_blocked",
            ServiceError::BreakGlassRequired => "break_glass_required",
            ServiceError::Locked { .. } => "locked",
            ServiceError::RateLimited { .. } => "rate_limited",
            ServiceError::ConsentRequired => "consent_required",
            ServiceError::FileRefused(_) => "file_refused",
            ServiceError::FileTooLarge(_) => "file_too_large",
            ServiceError::FileInfected => "file_infected",
            ServiceError::ScannerUnavailable => "scanner_unavailable",
            ServiceError::Internal(_) => "internal",
        }
    }

    /// A `NotFound` from the store, named for what was looked up.
    pub fn not_found(what: &'static str) -> impl Fn(StoreError) -> ServiceError {
        move |e| match e {
            StoreError::NotFound => ServiceError::NotFound(what),
            e => e.into(),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound("not found"),
            StoreError::Conflict => ServiceError::Conflict("already exists".into()),
            e => ServiceError::Internal(e.into()),
        }
    }
}

impl From<bot_engine::EngineError> for ServiceError {
    fn from(e: bot_engine::EngineError) -> Self {
        match e {
            bot_engine::EngineError::Busy => ServiceError::Busy,
            e => ServiceError::Internal(e.into()),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
