//! Canned replies: the clinic's words at a clinician's fingertips.
//!
//! - **Shared** replies are the team's (admins add, change and delete
//!   them); **personal** ones are a clinician's own, seen by nobody else.
//! - Each is in one language. For a conversation, the picker lists first
//!   the replies in the language the clinician writes to that patient (the
//!   patient's, or the clinician's own when the router translates), then
//!   the rest; within each, the clinician's most used first.
//! - **Variables** `{clinic}`, `{clinician}` and `{phone}` are filled in
//!   from the clinic's settings and the clinician's name. There is none for
//!   the patient: a canned reply never carries a patient's details, and a
//!   body in which the redactor finds PHI is refused (with what it found).
//! - Adding, changing and deleting are audited (never the words).

use serde::{Deserialize, Serialize};
use store::{CannedReply, ConversationId, NewAudit, NewCannedReply, Role, User};

use crate::{Service, ServiceError, ServiceResult};

/// The variables a canned reply may hold.
pub const VARIABLES: [&str; 3] = ["clinic", "clinician", "phone"];
pub const MAX_TITLE_CHARS: usize = 80;
pub const MAX_BODY_CHARS: usize = crate::MAX_MESSAGE_CHARS;

/// What fills `{clinic}` and `{phone}`: the clinic's own settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClinicInfo {
    pub name: String,
    pub phone: String,
    /// The clinic's privacy notice, linked from the consent step
    /// ([`crate::consent`]).
    pub privacy_url: String,
}

/// A reply as a clinician's picker shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CannedView {
    pub id: i64,
    pub shared: bool,
    pub language: String,
    pub title: String,
    /// As written, variables unfilled.
    pub body: String,
    /// Ready to send: variables filled in.
    pub text: String,
    /// Variables the clinic has not set (left as written in `text`).
    #[schema(value_type = Vec<String>)]
    pub unset: Vec<&'static str>,
    pub uses: i64,
    /// Whether the one asking may change or delete it.
    pub editable: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CannedList {
    /// The language the clinician writes in to the conversation asked
    /// about, when it is theirs; its replies come first.
    pub language: Option<String>,
    pub replies: Vec<CannedView>,
}

/// A reply as written in the console.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CannedInput {
    /// For the whole team (admins only); else the writer's own.
    #[serde(default)]
    pub shared: bool,
    pub language: String,
    pub title: String,
    pub body: String,
}

/// The variables named in `body`, or the first unknown one.
fn variables(body: &str) -> Result<Vec<&str>, String> {
    let mut found = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(
                "a '{' is not closed: variables are {clinic}, {clinician} and {phone}".into(),
            );
        };
        let name = &after[..close];
        match VARIABLES.iter().find(|v| **v == name) {
            Some(v) => found.push(*v),
            None => {
                return Err(format!(
                    "{{{name}}} is not a variable: use {{clinic}}, {{clinician}} or {{phone}} \
                     (never a patient's details)"
                ));
            }
        }
        rest = &after[close + 1..];
    }
    Ok(found)
}

/// A language tag as the whitelist writes them: `en`, `es`, `pt-br`.
fn valid_language(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

impl Service {
    /// What fills `{clinic}` and `{phone}`.
    pub fn with_clinic(mut self, clinic: ClinicInfo) -> Service {
        self.clinic = clinic;
        self
    }

    fn fill(&self, body: &str, user: &User) -> (String, Vec<&'static str>) {
        let mut text = body.to_string();
        let mut unset = Vec::new();
        for (name, value) in [
            ("clinic", self.clinic.name.as_str()),
            ("clinician", user.display_name.as_str()),
            ("phone", self.clinic.phone.as_str()),
        ] {
            let key = format!("{{{name}}}");
            if !text.contains(&key) {
                continue;
            }
            if value.trim().is_empty() {
                unset.push(VARIABLES.into_iter().find(|v| *v == name).expect("listed"));
            } else {
                text = text.replace(&key, value.trim());
            }
        }
        (text, unset)
    }

    fn view(&self, r: CannedReply, user: &User) -> CannedView {
        let (text, unset) = self.fill(&r.body, user);
        CannedView {
            editable: may_edit(&r, user),
            id: r.id,
            shared: r.owner.is_none(),
            language: r.language,
            title: r.title,
            body: r.body,
            text,
            unset,
            uses: r.uses,
        }
    }

    /// The replies `user` may pick from, those in the language they write
    /// to `conversation` in first.
    pub async fn canned_replies(
        &self,
        user: &User,
        conversation: Option<&ConversationId>,
    ) -> ServiceResult<CannedList> {
        staff_with_chats(user)?;
        let language = match conversation {
            // Only a chat the clinician has: another's language is not
            // theirs to learn without a reason (break-glass).
            Some(id) => {
                let conv = self.store.conversation(id).await.ok();
                let conv = conv.filter(|c| c.assigned_to == Some(user.id));
                conv.and_then(|c| c.language).map(|patient| {
                    match self.translation_plan(&patient, user.id) {
                        // Translated on the way: the clinician writes theirs.
                        Some((_, clinician)) => clinician,
                        None => patient,
                    }
                })
            }
            None => None,
        };
        let mut replies: Vec<CannedView> = self
            .store
            .canned_replies(user.id)
            .await?
            .into_iter()
            .map(|r| self.view(r, user))
            .collect();
        if let Some(language) = &language {
            // Stable: most used first within each group, as stored.
            replies.sort_by_key(|r| r.language != *language);
        }
        Ok(CannedList { language, replies })
    }

    async fn checked(&self, user: &User, input: CannedInput) -> ServiceResult<NewCannedReply> {
        if input.shared && user.role != Role::Admin {
            return Err(ServiceError::Forbidden(
                "only an admin manages the shared replies",
            ));
        }
        let language = input.language.trim().to_ascii_lowercase();
        if !valid_language(&language) {
            return Err(ServiceError::BadRequest(
                "the language is a code such as en or es".into(),
            ));
        }
        let title = input.title.trim().to_string();
        let body = input.body.trim().to_string();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
            return Err(ServiceError::BadRequest(format!(
                "the title must be 1 to {MAX_TITLE_CHARS} characters"
            )));
        }
        if body.is_empty() || body.chars().count() > MAX_BODY_CHARS {
            return Err(ServiceError::BadRequest(format!(
                "the reply must be 1 to {MAX_BODY_CHARS} characters"
            )));
        }
        variables(&body).map_err(ServiceError::BadRequest)?;
        // The redactor reads the words with the variables taken out: what
        // is left is the clinic's own text, and must hold no PHI.
        for (what, text) in [("title", &title), ("reply", &body)] {
            let mut plain = text.clone();
            for v in VARIABLES {
                plain = plain.replace(&format!("{{{v}}}"), "");
            }
            let redacted = self.redact_staff_text(&plain).await?;
            if redacted != plain {
                let kinds: std::collections::BTreeSet<&str> = placeholders(&redacted).collect();
                return Err(ServiceError::BadRequest(format!(
                    "the {what} looks like it holds personal details ({}): a canned reply is \
                     the clinic's words; use {{clinic}}, {{clinician}} or {{phone}}",
                    kinds.into_iter().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        Ok(NewCannedReply {
            owner: (!input.shared).then_some(user.id),
            language,
            title,
            body,
        })
    }

    pub async fn add_canned_reply(
        &self,
        user: &User,
        input: CannedInput,
        address: Option<String>,
    ) -> ServiceResult<CannedView> {
        staff_with_chats(user)?;
        let new = self.checked(user, input).await?;
        let shared = new.owner.is_none();
        let added = self.store.add_canned_reply(new).await?;
        self.audit_canned(user, added.id, "added", shared, address)
            .await?;
        Ok(self.view(added, user))
    }

    /// A reply `user` may pick: shared, or their own. Another clinician's
    /// own reply does not exist for them.
    async fn visible(&self, user: &User, id: i64) -> ServiceResult<CannedReply> {
        staff_with_chats(user)?;
        let reply = self
            .store
            .canned_reply(id, user.id)
            .await
            .map_err(ServiceError::not_found("no such canned reply"))?;
        if reply.owner.is_some_and(|o| o != user.id) {
            return Err(ServiceError::NotFound("no such canned reply"));
        }
        Ok(reply)
    }

    async fn editable(&self, user: &User, id: i64) -> ServiceResult<CannedReply> {
        let reply = self.visible(user, id).await?;
        if !may_edit(&reply, user) {
            return Err(ServiceError::Forbidden(
                "only an admin manages the shared replies",
            ));
        }
        Ok(reply)
    }

    pub async fn update_canned_reply(
        &self,
        user: &User,
        id: i64,
        input: CannedInput,
        address: Option<String>,
    ) -> ServiceResult<CannedView> {
        let before = self.editable(user, id).await?;
        if input.shared != before.owner.is_none() {
            return Err(ServiceError::BadRequest(
                "a reply stays shared or personal: add a new one instead".into(),
            ));
        }
        let new = self.checked(user, input).await?;
        self.store.update_canned_reply(id, new).await?;
        self.audit_canned(user, id, "changed", before.owner.is_none(), address)
            .await?;
        Ok(self.view(self.store.canned_reply(id, user.id).await?, user))
    }

    pub async fn delete_canned_reply(
        &self,
        user: &User,
        id: i64,
        address: Option<String>,
    ) -> ServiceResult<()> {
        let before = self.editable(user, id).await?;
        self.store.delete_canned_reply(id).await?;
        self.audit_canned(user, id, "deleted", before.owner.is_none(), address)
            .await
    }

    /// Counts a use: the picker's order follows.
    pub async fn use_canned_reply(&self, user: &User, id: i64) -> ServiceResult<()> {
        self.visible(user, id).await?;
        Ok(self.store.use_canned_reply(id, user.id).await?)
    }

    async fn audit_canned(
        &self,
        user: &User,
        id: i64,
        what: &str,
        shared: bool,
        address: Option<String>,
    ) -> ServiceResult<()> {
        let scope = if shared { "shared" } else { "personal" };
        Ok(self
            .store
            .audit(
                NewAudit::new(
                    Some(user.id),
                    "canned_reply",
                    format!("canned:{id}"),
                    format!("{what} {scope}"),
                )
                .from_address(address),
            )
            .await?)
    }
}

fn may_edit(r: &CannedReply, user: &User) -> bool {
    match r.owner {
        None => user.role == Role::Admin,
        Some(owner) => owner == user.id,
    }
}

/// Canned replies are for those who answer chats, and the admins who
/// manage them; an auditor has none.
fn staff_with_chats(user: &User) -> ServiceResult<()> {
    if user.role == Role::Auditor {
        Err(ServiceError::Forbidden("an auditor has no canned replies"))
    } else {
        Ok(())
    }
}

/// The placeholders (`[NAME]`, `[PHONE]`) a redactor left in `text`.
fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split('[').skip(1).filter_map(|part| {
        let end = part.find(']')?;
        let name = &part[..end];
        (!name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
            .then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_three_variables_are_allowed() {
        assert_eq!(
            variables("Hi, {clinician} at {clinic}: call {phone}.").unwrap(),
            ["clinician", "clinic", "phone"]
        );
        assert!(
            variables("Dear {patient}")
                .unwrap_err()
                .contains("{patient}")
        );
        assert!(variables("open {brace").is_err());
        assert!(variables("no variables").unwrap().is_empty());
    }

    #[test]
    fn language_tags_are_codes() {
        for ok in ["en", "es", "pt-br", "zh-hant"] {
            assert!(valid_language(ok), "{ok}");
        }
        for bad in ["", "e", "English", "EN", "en_", "en-"] {
            assert!(!valid_language(bad), "{bad}");
        }
    }

    #[test]
    fn placeholders_are_read_back() {
        let found: Vec<_> = placeholders("Hi [NAME], call [PHONE] or [x]").collect();
        assert_eq!(found, ["NAME", "PHONE"]);
    }
}
