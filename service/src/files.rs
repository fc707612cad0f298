//! Files both ways: a patient sends a photo or a PDF to the clinic, a
//! clinician sends one back.
//!
//! Every file, from either side, goes the same way before anything is kept:
//!
//! 1. **Size and type.** At most [`attachments::Limits::max_bytes`]; the type
//!    decided by the content ([`attachments::sniff`]), never the name:
//!    JPEG, PNG, WebP or PDF.
//! 2. **Virus scan.** The bytes as sent go to the clinic's scanner (clamd's
//!    `INSTREAM`, `console/src/clamd.rs`) before any decoder reads them. An
//!    infected file is refused; so is every file while the scanner cannot
//!    be reached, unless the clinic turned scanning off
//!    (`[files] scan = false`), which is then recorded on each file.
//! 3. **Metadata stripped.** Images are decoded and re-encoded (EXIF with
//!    the GPS position, XMP, comments, text chunks: gone; the EXIF
//!    orientation applied first), PDFs rewritten without their info
//!    dictionary or XMP ([`attachments::clean`]).
//! 4. **Sealed.** Stored under the conversation's data key with the
//!    message that shows it ("📎 name"), the name redacted; a store without
//!    a vault keeps no files.
//!
//! Who may send: the patient once consent is given and a person is (or will
//! be) reading, that is while the chat waits in the queue or a clinician
//! has it; the clinician who has the chat. Who may download: the patient
//! (their resume token) and the staff who see the chat's originals ([`crate::access`]:
//! the clinician who has it, an admin, or a stated reason). Every upload
//! and download is on the audit trail (`file_upload`, `file_read`), never
//! with the name.

use std::sync::Arc;

use async_trait::async_trait;
pub use attachments::Limits;
use attachments::{Kind, Refusal};
use serde::Serialize;
use store::{
    ConvState, Conversation, ConversationId, FileMeta, NewAudit, NewFile, NewMessage, Sender, User,
};

use crate::frames::{ClinicianFrame, PatientFrame};
use crate::views::MessageView;
use crate::{Service, ServiceError, ServiceResult};

/// How many files one conversation may hold from each side.
pub const MAX_FILES_PER_CONVERSATION: usize = 20;
/// Files decoded and encoded at once (each may hold a large image's
/// pixels in memory).
pub(crate) const CLEANING_AT_ONCE: usize = 2;
/// The longest name kept (characters, before the extension).
const MAX_NAME_CHARS: usize = 80;

/// What a virus scanner says of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The signature's name (never the file's content).
    Infected(String),
}

/// The clinic's virus scanner (the server's is clamd, over its socket).
#[async_trait]
pub trait Scanner: Send + Sync {
    /// Scans `bytes`; an error when the scanner cannot be asked (not
    /// running, refused the stream), never with the file's content.
    async fn scan(&self, bytes: &[u8]) -> Result<Verdict, String>;
}

/// How the clinic shares files.
#[derive(Clone)]
pub struct FileSharing {
    /// False: no file is accepted, and the widget offers none.
    pub enabled: bool,
    pub limits: Limits,
    /// `None` only where the clinic turned scanning off.
    pub scanner: Option<Arc<dyn Scanner>>,
}

impl Default for FileSharing {
    /// Off: a service is given its scanner by whoever builds it.
    fn default() -> FileSharing {
        FileSharing {
            enabled: false,
            limits: Limits::default(),
            scanner: None,
        }
    }
}

/// A shared file as the widget and the console show it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FileView {
    pub id: i64,
    /// The name it was sent with (redacted, with the extension of what it
    /// is).
    pub name: String,
    /// Its media type, by content: `image/jpeg`, `image/png`,
    /// `image/webp` or `application/pdf`.
    #[serde(rename = "type")]
    pub media_type: String,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
}

impl FileView {
    pub fn of(meta: &FileMeta) -> FileView {
        FileView {
            id: meta.id,
            name: meta.name.clone(),
            media_type: Kind::parse(&meta.kind)
                .map(Kind::mime)
                .unwrap_or("application/octet-stream")
                .to_string(),
            size: meta.size,
            width: meta.width,
            height: meta.height,
            pages: meta.pages,
        }
    }
}

/// A file to hand over: its bytes and how to name them.
#[derive(Debug)]
pub struct Download {
    pub name: String,
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
}

/// A refusal by [`attachments`], as the sender is told it.
fn refused(r: Refusal) -> ServiceError {
    match r {
        Refusal::TooLarge { .. } => ServiceError::FileTooLarge(r.to_string()),
        r => ServiceError::FileRefused(r.to_string()),
    }
}

/// The refusal of a file over `max_bytes`, as the sender is told it.
pub fn too_large(max_bytes: usize) -> ServiceError {
    refused(Refusal::TooLarge { max_bytes })
}

/// The name to keep: the last path segment, printable characters only,
/// without its extension (the content decides that), at most
/// [`MAX_NAME_CHARS`]; empty where nothing is left.
fn base_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let stem = match last.rsplit_once('.') {
        Some((stem, _)) => stem,
        None => last,
    };
    stem.chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect::<String>()
        .trim()
        .to_string()
}

/// A stored file's extension, by its kind (`bin` for one this version
/// does not know).
pub fn extension(kind: &str) -> &'static str {
    Kind::parse(kind).map(Kind::extension).unwrap_or("bin")
}

/// The message text that shows a file in any reader that knows nothing of
/// files (transcripts, exports).
pub fn file_text(name: &str) -> String {
    format!("📎 {name}")
}

impl Service {
    /// The clinic's file sharing ([`FileSharing`]).
    pub fn with_files(mut self, files: FileSharing) -> Service {
        self.files = files;
        self
    }

    /// The clinic's limits on a file.
    pub fn file_limits(&self) -> Limits {
        self.files.limits
    }

    /// Whether the widget should offer to send files.
    pub fn files_enabled(&self) -> bool {
        self.files.enabled && self.store.keeps_files()
    }

    /// The files a conversation's messages show, by id.
    pub(crate) async fn file_view(&self, id: i64) -> Option<FileView> {
        self.store
            .file_meta(id)
            .await
            .ok()
            .map(|m| FileView::of(&m))
    }

    /// Checks, scans and cleans `bytes`; the name to keep, redacted.
    async fn prepare(
        &self,
        conv: &Conversation,
        sender: Sender,
        name: &str,
        bytes: Vec<u8>,
    ) -> ServiceResult<(attachments::Cleaned, String, bool)> {
        if !self.files_enabled() {
            return Err(ServiceError::Forbidden("this clinic does not take files"));
        }
        let sent = self
            .store
            .files_of(&conv.id)
            .await?
            .iter()
            .filter(|f| f.sender == sender)
            .count();
        if sent >= MAX_FILES_PER_CONVERSATION {
            return Err(ServiceError::FileRefused(format!(
                "a chat holds at most {MAX_FILES_PER_CONVERSATION} files from each side"
            )));
        }
        let limits = self.files.limits;
        if bytes.len() > limits.max_bytes {
            return Err(refused(Refusal::TooLarge {
                max_bytes: limits.max_bytes,
            }));
        }
        attachments::sniff(&bytes).map_err(refused)?;
        // The scanner sees the file as sent, before any decoder does.
        let scanned = match &self.files.scanner {
            Some(scanner) => match scanner.scan(&bytes).await {
                Ok(Verdict::Clean) => true,
                Ok(Verdict::Infected(signature)) => {
                    tracing::warn!(
                        conversation = conv.id.as_str(),
                        signature = %signature,
                        "an infected file was refused"
                    );
                    self.store
                        .audit(NewAudit::new(
                            None,
                            "file_infected",
                            conv.id.as_str(),
                            format!("from the {}: {signature}", sender.as_str()),
                        ))
                        .await?;
                    return Err(ServiceError::FileInfected);
                }
                Err(e) => {
                    tracing::error!(error = %e, "the virus scanner could not be reached");
                    return Err(ServiceError::ScannerUnavailable);
                }
            },
            None => false,
        };
        // Decoding is the heavy part (a 40-megapixel photo is 160 MB of
        // pixels): a few at a time, the rest wait their turn.
        let _turn = self
            .file_work
            .acquire()
            .await
            .map_err(|e| ServiceError::Internal(e.into()))?;
        let cleaned = tokio::task::spawn_blocking(move || attachments::clean(&bytes, &limits))
            .await
            .map_err(|e| ServiceError::Internal(e.into()))?
            .map_err(refused)?;
        let base = base_name(name);
        let base = if base.is_empty() {
            if cleaned.kind.is_image() {
                "photo"
            } else {
                "document"
            }
            .to_string()
        } else {
            // Names hold PHI too ("jane_doe_rash"): separators read as
            // spaces so the redactor sees the words.
            let words = base.replace(['_', '-', '.'], " ");
            self.redact_staff_text(&words).await?
        };
        let name = format!("{base}.{}", cleaned.kind.extension());
        Ok((cleaned, name, scanned))
    }

    /// Stores a prepared file with the message that shows it.
    async fn keep_file(
        &self,
        conv: &Conversation,
        user: Option<&User>,
        (cleaned, name, scanned): (attachments::Cleaned, String, bool),
    ) -> ServiceResult<(FileView, store::Message)> {
        let sender = if user.is_some() {
            Sender::Clinician
        } else {
            Sender::Patient
        };
        let (width, height) = cleaned.dimensions.unzip();
        let file = NewFile {
            conversation_id: conv.id.clone(),
            sender,
            user_id: user.map(|u| u.id),
            name: name.clone(),
            kind: cleaned.kind.as_str().into(),
            width,
            height,
            pages: cleaned.pages,
            scanned,
            data: cleaned.bytes,
        };
        let message = NewMessage::plain(
            conv.id.clone(),
            sender,
            user.map(|u| u.id),
            file_text(&name),
        );
        let audit = NewAudit::new(
            user.map(|u| u.id),
            "file_upload",
            conv.id.as_str(),
            format!(
                "{} from the {}, {} bytes{}",
                file.kind,
                sender.as_str(),
                file.data.len(),
                if scanned { "" } else { ", not scanned" }
            ),
        );
        let (meta, stored) = self.store.add_file(file, message, Some(audit)).await?;
        tracing::info!(
            conversation = conv.id.as_str(),
            file = meta.id,
            kind = %meta.kind,
            size = meta.size,
            "file shared"
        );
        Ok((FileView::of(&meta), stored))
    }

    /// A file from the patient whose resume token is `resume`.
    pub async fn patient_file(
        &self,
        resume: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> ServiceResult<FileView> {
        let conv = self.patient_conversation(resume).await?;
        match conv.state {
            ConvState::Queued | ConvState::Assigned => {}
            ConvState::Closed => {
                return Err(ServiceError::Conflict("the conversation is closed".into()));
            }
            ConvState::Bot => {
                return Err(ServiceError::Conflict(
                    "files go to a person: ask for one first".into(),
                ));
            }
        }
        self.check_consent(&conv).await?;
        let prepared = self.prepare(&conv, Sender::Patient, name, bytes).await?;
        let (view, stored) = self.keep_file(&conv, None, prepared).await?;
        if conv.state == ConvState::Assigned
            && let Some(user) = conv.assigned_to
        {
            let message = self.message_view(&stored).await;
            self.hub.to_clinician(
                user,
                &ClinicianFrame::Message {
                    conversation: conv.id.clone(),
                    message,
                },
            );
        }
        Ok(view)
    }

    /// The chat, when `user` may send its patient a file: they have it.
    /// The HTTP edge asks before it reads a byte of the file.
    pub async fn may_send_file(
        &self,
        conversation: &ConversationId,
        user: &User,
    ) -> ServiceResult<Conversation> {
        let conv = self
            .store
            .conversation(conversation)
            .await
            .map_err(ServiceError::not_found("no such conversation"))?;
        if conv.state != ConvState::Assigned || conv.assigned_to != Some(user.id) {
            return Err(ServiceError::Forbidden(
                "take the chat before sending a file",
            ));
        }
        Ok(conv)
    }

    /// A file from the clinician who has the chat, to its patient.
    pub async fn clinician_file(
        &self,
        conversation: &ConversationId,
        user: &User,
        name: &str,
        bytes: Vec<u8>,
    ) -> ServiceResult<MessageView> {
        let conv = self.may_send_file(conversation, user).await?;
        let prepared = self.prepare(&conv, Sender::Clinician, name, bytes).await?;
        let (view, stored) = self.keep_file(&conv, Some(user), prepared).await?;
        let mut frame = PatientFrame::message(
            Sender::Clinician,
            &stored.text,
            stored.created_at,
            Some(user.display_name.clone()),
        );
        if let PatientFrame::Message { file, .. } = &mut frame {
            *file = Some(view.clone());
        }
        self.hub.to_patient(conversation, &frame);
        Ok(self.message_view(&stored).await)
    }

    /// A file of the patient's own conversation (their resume token).
    pub async fn patient_download(&self, resume: &str, id: i64) -> ServiceResult<Download> {
        let conv = self.patient_conversation(resume).await?;
        let meta = self
            .store
            .file_meta(id)
            .await
            .map_err(ServiceError::not_found("no such file"))?;
        if meta.conversation_id != conv.id {
            return Err(ServiceError::NotFound("no such file"));
        }
        self.hand_over(meta, None, None).await
    }

    /// A file for staff: only where they see the chat's originals (the
    /// clinician who has it, an admin, or a stated `reason`).
    pub async fn staff_download(
        &self,
        user: &User,
        id: i64,
        reason: Option<&str>,
        address: Option<String>,
    ) -> ServiceResult<Download> {
        if user.role == store::Role::Auditor {
            return Err(ServiceError::Forbidden("an auditor does not see chats"));
        }
        let meta = self
            .store
            .file_meta(id)
            .await
            .map_err(ServiceError::not_found("no such file"))?;
        let conv = self.store.conversation(&meta.conversation_id).await?;
        let broke_glass = self.open_for(user, &conv, reason, address.clone()).await?;
        if !Self::sees_originals(user, &conv, broke_glass) {
            return Err(ServiceError::Forbidden(
                "files open for the clinician who has the chat, an admin, or with a stated reason",
            ));
        }
        self.hand_over(meta, Some(user), address).await
    }

    /// Opens a file's bytes, with its audit line.
    async fn hand_over(
        &self,
        meta: FileMeta,
        user: Option<&User>,
        address: Option<String>,
    ) -> ServiceResult<Download> {
        let bytes = self
            .store
            .file_data(meta.id)
            .await
            .map_err(ServiceError::not_found("no such file"))?;
        let by = if user.is_some() {
            "staff"
        } else {
            "the patient"
        };
        self.store
            .audit(
                NewAudit::new(
                    user.map(|u| u.id),
                    "file_read",
                    meta.conversation_id.as_str(),
                    format!("file {} by {by}", meta.id),
                )
                .from_address(address),
            )
            .await?;
        let kind = Kind::parse(&meta.kind).ok_or_else(|| {
            ServiceError::Internal(anyhow::anyhow!("file {} has kind {:?}", meta.id, meta.kind))
        })?;
        Ok(Download {
            name: meta.name,
            media_type: kind.mime(),
            bytes,
        })
    }

    /// The conversation a patient's resume token opens.
    pub async fn patient_conversation(&self, resume: &str) -> ServiceResult<Conversation> {
        if resume.len() != 64 {
            return Err(ServiceError::Forbidden("not a chat's token"));
        }
        self.store
            .conversation_by_resume(&crate::tokens::token_hash(resume))
            .await
            .map_err(|e| match e {
                store::StoreError::NotFound => ServiceError::Forbidden("not a chat's token"),
                e => e.into(),
            })
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn a_kept_name_is_its_last_segment_without_its_extension_or_control_characters() {
        assert_eq!(
            base_name("C:\\Users\\jo\\rash photo.HEIC.jpg"),
            "rash photo.HEIC"
        );
        assert_eq!(base_name("../../etc/passwd"), "passwd");
        assert_eq!(base_name("scan\u{7}\n.pdf"), "scan");
        assert_eq!(base_name(".pdf"), "");
        assert_eq!(base_name("   "), "");
        assert_eq!(base_name(&"x".repeat(300)).chars().count(), MAX_NAME_CHARS);
    }
}
