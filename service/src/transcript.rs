//! Transcripts: a conversation written out for someone to keep.
//!
//! - **The practice copy**: the clinician who holds (or held) the chat, or
//!   an admin, exports it as printable HTML (the browser's print turns it
//!   into a PDF) or as FHIR-shaped JSON for the chart
//!   ([`Service::practice_transcript`]); audited as `transcript`.
//! - **The patient copy**: the widget offers it at the end of a chat (asked
//!   for on the patient's socket); or staff make a one-time
//!   link ([`Service::transcript_link`]) that works once within
//!   [`LINK_TTL_SECS`] and carries a random token, never PHI. Both are
//!   audited as `transcript_patient`.
//! - **Ephemeral mode** pushes the FHIR copy to the clinic's endpoint
//!   before the chat is deleted (`retention.rs`).
//!
//! Each copy holds the words as typed where they were kept (opened from the
//! vault), else the redacted copy; card, account and Social Security
//! numbers show their last four characters only, as on screen. Staff-only
//! notes are not part of any transcript.

use serde_json::{Value, json};
use store::{Conversation, ConversationId, NewAudit, Role, Sender, Timestamp, User};

use crate::tokens::{Secret, new_token, token_hash};
use crate::views::Translation;
use crate::{Service, ServiceError, ServiceResult};

/// How long a one-time link to a patient's transcript works: three days.
pub const LINK_TTL_SECS: i64 = 3 * 86_400;

/// What a transcript is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Printable HTML.
    Html,
    /// A FHIR R4 `Bundle` of `Communication` resources.
    Fhir,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "html" => Some(Format::Html),
            "fhir" | "json" => Some(Format::Fhir),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Fhir => "fhir",
        }
    }
}

/// Whose copy: the labels differ ("You" for the patient).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copy {
    Practice,
    Patient,
}

/// A conversation as a transcript holds it.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub conversation: ConversationId,
    pub started: Timestamp,
    /// When the chat closed, if it has.
    pub closed: Option<Timestamp>,
    pub language: Option<String>,
    pub entries: Vec<Entry>,
}

/// One message of a transcript.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: i64,
    pub from: Sender,
    /// The clinician's name, for theirs.
    pub name: Option<String>,
    pub text: String,
    pub at: Timestamp,
    pub translation: Option<Translation>,
}

/// `conv` written out from `store`: the words as typed where kept (opened
/// from the vault), numbers masked; each clinician named.
pub async fn build(store: &dyn store::Store, conv: &Conversation) -> ServiceResult<Transcript> {
    let originals = store.originals(&conv.id).await?;
    let mut names: std::collections::HashMap<store::UserId, Option<String>> = Default::default();
    let mut entries = Vec::new();
    for m in store.messages(&conv.id).await? {
        let name = match m.user_id {
            Some(id) => match names.get(&id) {
                Some(n) => n.clone(),
                None => {
                    let n = store.user(id).await.ok().map(|u| u.display_name);
                    names.insert(id, n.clone());
                    n
                }
            },
            None => None,
        };
        let text = match originals.get(&m.id) {
            Some(o) => crate::masking::mask(o).unwrap_or_else(|| o.clone()),
            None => m.text.clone(),
        };
        entries.push(Entry {
            id: m.id.0,
            from: m.sender,
            name,
            text,
            at: m.created_at,
            translation: m.translation.as_ref().map(Translation::from_stored),
        });
    }
    Ok(Transcript {
        conversation: conv.id.clone(),
        started: conv.created_at,
        closed: (conv.state == store::ConvState::Closed).then_some(conv.updated_at),
        language: conv.language.clone(),
        entries,
    })
}

impl Service {
    /// `conv` written out ([`build`]).
    pub(crate) async fn transcript_of(&self, conv: &Conversation) -> ServiceResult<Transcript> {
        build(self.store.as_ref(), conv).await
    }

    /// The conversation, if `user` may hand its transcript on: an admin, or
    /// the clinician who holds or held it. A break-glass look does not
    /// reach this far.
    async fn transcript_holder(
        &self,
        id: &ConversationId,
        user: &User,
    ) -> ServiceResult<Conversation> {
        let conv = self
            .store
            .conversation(id)
            .await
            .map_err(ServiceError::not_found("no such conversation"))?;
        let allowed = match user.role {
            Role::Admin => true,
            Role::Clinician => {
                conv.assigned_to == Some(user.id) || self.store.has_held(id, user.id).await?
            }
            Role::Auditor => false,
        };
        if !allowed {
            return Err(ServiceError::Forbidden(
                "only an admin or the clinician who had the chat exports its transcript",
            ));
        }
        Ok(conv)
    }

    /// The practice's copy of a conversation, for `reader`; audited.
    pub async fn practice_transcript(
        &self,
        id: &ConversationId,
        reader: &User,
        format: Format,
        address: Option<String>,
    ) -> ServiceResult<Transcript> {
        let conv = self.transcript_holder(id, reader).await?;
        let transcript = self.transcript_of(&conv).await?;
        self.store
            .audit(
                NewAudit::new(Some(reader.id), "transcript", id.as_str(), format.as_str())
                    .from_address(address),
            )
            .await?;
        Ok(transcript)
    }

    /// A one-time link's token for the patient's copy of a conversation,
    /// made by `by` (who may export it), and when it stops working.
    pub async fn transcript_link(
        &self,
        id: &ConversationId,
        by: &User,
        address: Option<String>,
    ) -> ServiceResult<(Secret, Timestamp)> {
        let conv = self.transcript_holder(id, by).await?;
        let token = new_token();
        let now = self.clock.now();
        let expires = now.plus_secs(LINK_TTL_SECS);
        self.store
            .create_transcript_link(&token_hash(&token.0), &conv.id, by.id, now, expires)
            .await?;
        self.store
            .audit(
                NewAudit::new(Some(by.id), "transcript_link", id.as_str(), "")
                    .from_address(address),
            )
            .await?;
        Ok((token, expires))
    }

    /// The patient's copy of their own conversation, asked for on its
    /// socket (the widget offers it at the end of the chat); audited.
    pub async fn patient_transcript(
        &self,
        id: &ConversationId,
        address: Option<String>,
    ) -> ServiceResult<Transcript> {
        // Counted as a message: a socket cannot flood the audit trail.
        self.limits
            .messages
            .take(id.as_str(), self.now_ms())
            .map_err(|retry_after_secs| ServiceError::RateLimited { retry_after_secs })?;
        let conv = self
            .store
            .conversation(id)
            .await
            .map_err(ServiceError::not_found("no such conversation"))?;
        self.patient_copy(conv, "socket", address).await
    }

    /// The patient's copy through a one-time link: the link is used up.
    /// `NotFound` alike for a token that never was, was used or expired.
    pub async fn linked_transcript(
        &self,
        token: &str,
        address: Option<String>,
    ) -> ServiceResult<Transcript> {
        const GONE: &str = "this link was used already, has expired, or never was";
        if token.len() != 64 {
            return Err(ServiceError::NotFound(GONE));
        }
        let id = self
            .store
            .use_transcript_link(&token_hash(token), self.clock.now())
            .await
            .map_err(ServiceError::not_found(GONE))?;
        let conv = self
            .store
            .conversation(&id)
            .await
            .map_err(ServiceError::not_found(GONE))?;
        self.patient_copy(conv, "link", address).await
    }

    async fn patient_copy(
        &self,
        conv: Conversation,
        via: &str,
        address: Option<String>,
    ) -> ServiceResult<Transcript> {
        let transcript = self.transcript_of(&conv).await?;
        self.store
            .audit(
                NewAudit::new(None, "transcript_patient", conv.id.as_str(), via)
                    .from_address(address),
            )
            .await?;
        Ok(transcript)
    }
}

/// `2026-12-06 10:00 UTC`.
fn when(t: Timestamp) -> String {
    let s = t.rfc3339();
    format!("{} {} UTC", &s[..10], &s[11..16])
}

/// Text made safe inside HTML elements and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Who wrote an entry, as the copy's reader knows them.
fn author(e: &Entry, copy: Copy) -> String {
    match (e.from, copy) {
        (Sender::Patient, Copy::Patient) => "You".into(),
        (Sender::Patient, Copy::Practice) => "Patient".into(),
        (Sender::Bot, _) => "Assistant (automated)".into(),
        (Sender::Clinician, _) => e.name.clone().unwrap_or_else(|| "Clinician".into()),
        (Sender::System, _) => "Carechat".into(),
    }
}

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;color:#111;max-width:46rem;margin:2rem auto;padding:0 1rem}\
h1{font-size:1.4rem;margin:0 0 .25rem}.meta,footer{color:#444;font-size:.85rem}\
ol{list-style:none;padding:0}li{border-top:1px solid #ccc;padding:.5rem 0;break-inside:avoid}\
.who{font-weight:600}.who time{font-weight:400;color:#444;margin-left:.5rem}\
p{margin:.25rem 0;white-space:pre-wrap;overflow-wrap:anywhere}.tr{color:#333;font-style:italic}\
@media print{body{margin:0;max-width:none}}";

/// A transcript as a self-contained, printable HTML page (no script, no
/// outside resource).
pub fn html(t: &Transcript, copy: Copy) -> String {
    let mut out = String::new();
    let title = match copy {
        Copy::Practice => "Chat transcript",
        Copy::Patient => "Your chat transcript",
    };
    out.push_str(&format!(
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n",
        escape(t.language.as_deref().unwrap_or("en"))
    ));
    out.push_str(&format!(
        "<p class=\"meta\">Conversation {} · started {}",
        escape(t.conversation.as_str()),
        when(t.started)
    ));
    if let Some(closed) = t.closed {
        out.push_str(&format!(" · ended {}", when(closed)));
    }
    out.push_str("</p>\n<ol>\n");
    for e in &t.entries {
        out.push_str(&format!(
            "<li class=\"{}\"><div class=\"who\">{}<time datetime=\"{}\">{}</time></div><p>{}</p>",
            e.from.as_str(),
            escape(&author(e, copy)),
            e.at.rfc3339(),
            when(e.at),
            escape(&e.text)
        ));
        if let Some(tr) = &e.translation {
            out.push_str(&format!(
                "<p class=\"tr\" lang=\"{0}\">Machine translation ({0}): {1}</p>",
                escape(&tr.language),
                escape(&tr.text)
            ));
        }
        out.push_str("</li>\n");
    }
    out.push_str(&format!(
        "</ol>\n<footer>Written by Carechat at {}. Card, account and Social Security \
         numbers show only their last four characters.</footer>\n</body></html>\n",
        when(Timestamp::now())
    ));
    out
}

/// A transcript as a FHIR R4 `Bundle` (type `collection`) of
/// `Communication` resources, one per message, in order.
pub fn fhir(t: &Transcript) -> Value {
    let topic = format!("Carechat conversation {}", t.conversation.as_str());
    let entries: Vec<Value> = t
        .entries
        .iter()
        .map(|e| {
            let mut payload = vec![json!({ "contentString": e.text })];
            if let Some(tr) = &e.translation {
                payload.push(json!({
                    "contentString": tr.text,
                    "extension": [{
                        "url": "urn:carechat:machine-translation",
                        "valueCode": tr.language,
                    }],
                }));
            }
            let id = format!("{}-{}", t.conversation.as_str(), e.id);
            json!({
                "fullUrl": format!("urn:carechat:message:{id}"),
                "resource": {
                    "resourceType": "Communication",
                    "id": id.replace('_', "-"),
                    "identifier": [{ "system": "urn:carechat:message", "value": id }],
                    "status": "completed",
                    "category": [{ "coding": [{
                        "system": "urn:carechat:sender",
                        "code": e.from.as_str(),
                    }] }],
                    "topic": { "text": topic },
                    "sent": e.at.rfc3339(),
                    "sender": { "display": author(e, Copy::Practice) },
                    "payload": payload,
                },
            })
        })
        .collect();
    let mut bundle = json!({
        "resourceType": "Bundle",
        "identifier": { "system": "urn:carechat:conversation", "value": t.conversation.as_str() },
        "type": "collection",
        "timestamp": Timestamp::now().rfc3339(),
        "meta": { "tag": [{ "system": "urn:carechat", "code": "transcript" }] },
        "entry": entries,
    });
    if let Some(language) = &t.language {
        bundle["language"] = json!(language);
    }
    bundle
}
