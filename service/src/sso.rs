//! Single sign-on, the accounts' side. The console checks the clinic's
//! identity provider's answer (OpenID Connect, `console/src/sso.rs`); here
//! the person it vouches for becomes a Carechat account:
//!
//! - An account is tied to the provider's subject (issuer and `sub`), never
//!   to a name: a provider that hands a departed colleague's name to a new
//!   person does not hand over the old account. The first sign-in makes
//!   the account; a name already taken by an account made otherwise is
//!   refused (an admin renames or removes that one first).
//! - The provider decides the role, the skills and the languages at every
//!   sign-in (from the claims the clinic maps); a changed role is applied
//!   and audited like an admin's change, and the last active admin is kept.
//! - A disabled or removed account stays shut, whatever the provider says.
//! - The provider's own second factor applies; Carechat's TOTP is for
//!   password sign-ins.

use store::{NewAudit, NewUser, Role, StoreError, Timestamp, User, UserUpdate};

use crate::ServiceError;
use crate::accounts::{Staff, check_name};
use crate::tokens::new_token;

/// Who the identity provider says signed in, mapped to Carechat's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoIdentity {
    /// `issuer subject`: unique and stable for the person at the provider.
    pub subject: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// `None` when the clinic maps no claim to skills: they stay as an
    /// admin set them.
    pub skills: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
}

/// Why a sign-in the provider vouched for is still refused.
#[derive(Debug, thiserror::Error)]
pub enum SsoRefusal {
    #[error("this account is disabled")]
    Disabled,
    /// The name belongs to an account not made by single sign-on.
    #[error("an account with this name exists that was not made by single sign-on")]
    NameTaken,
    /// The provider no longer makes the last active admin an admin.
    #[error("the provider no longer makes the last active admin an admin")]
    LastAdmin,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for SsoRefusal {
    fn from(e: StoreError) -> Self {
        SsoRefusal::Service(e.into())
    }
}

impl Staff {
    /// The account for a sign-in the identity provider vouched for, made
    /// or brought up to date; the sign-in is audited either way.
    pub async fn sso_login(
        &self,
        id: &SsoIdentity,
        address: Option<String>,
        now: Timestamp,
    ) -> Result<User, SsoRefusal> {
        let now_ms = now.unix().max(0) as u64 * 1000;
        if let Err(retry_after_secs) = self
            .logins_per_address
            .take(address.as_deref().unwrap_or("-"), now_ms)
        {
            return Err(ServiceError::RateLimited { retry_after_secs }.into());
        }
        let line = |user: &User, action: &str, detail: &str| {
            NewAudit::new(
                Some(user.id),
                action,
                format!("user:{}", user.username),
                detail,
            )
            .from_address(address.clone())
        };
        let user = match self.store.user_by_sso_subject(&id.subject).await {
            Ok(user) => {
                if !user.active() {
                    self.store
                        .audit(line(&user, "login_failed", "sso account disabled"))
                        .await?;
                    return Err(SsoRefusal::Disabled);
                }
                self.follow_provider(&user, id).await?
            }
            Err(StoreError::NotFound) => self.sso_account(id, &line).await?,
            Err(e) => return Err(e.into()),
        };
        self.store.login_succeeded(user.id).await?;
        self.store.audit(line(&user, "login", "sso")).await?;
        Ok(user)
    }

    /// Makes the account at a first sign-in.
    async fn sso_account(
        &self,
        id: &SsoIdentity,
        line: &impl Fn(&User, &str, &str) -> NewAudit,
    ) -> Result<User, SsoRefusal> {
        check_name(&id.username)?;
        // Nobody knows this password: the account signs in through the
        // provider (until an admin sets a password).
        let password_hash = self.new_hash(new_token()).await?;
        let new = NewUser {
            username: id.username.clone(),
            display_name: id.display_name.clone(),
            role: id.role,
            password_hash,
            skills: id.skills.clone().unwrap_or_default(),
            languages: id.languages.clone().unwrap_or_else(|| vec!["en".into()]),
            max_chats: 4,
            licensed_states: Vec::new(),
        };
        match self.store.create_sso_user(new, &id.subject).await {
            Ok(user) => {
                let detail = format!("role={} via=sso", user.role.as_str());
                self.store.audit(line(&user, "user_add", &detail)).await?;
                Ok(user)
            }
            Err(StoreError::Conflict) => {
                if let Ok(taken) = self.store.user_by_name(&id.username).await {
                    self.store
                        .audit(line(&taken, "login_failed", "sso name taken"))
                        .await?;
                }
                Err(SsoRefusal::NameTaken)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Applies what the provider now says about an existing account.
    async fn follow_provider(&self, user: &User, id: &SsoIdentity) -> Result<User, SsoRefusal> {
        let mut update = UserUpdate::default();
        let mut changed = Vec::new();
        if user.role != id.role {
            if let Err(ServiceError::Conflict(_)) =
                self.keep_an_admin(user, id.role == Role::Admin).await
            {
                return Err(SsoRefusal::LastAdmin);
            }
            update.role = Some(id.role);
            changed.push(format!("role={}", id.role.as_str()));
        }
        if user.display_name != id.display_name {
            update.display_name = Some(id.display_name.clone());
            changed.push("display_name".into());
        }
        if let Some(skills) = id.skills.as_ref().filter(|s| **s != user.skills) {
            update.skills = Some(skills.clone());
            changed.push("skills".into());
        }
        if let Some(languages) = id.languages.as_ref().filter(|l| **l != user.languages) {
            update.languages = Some(languages.clone());
            changed.push("languages".into());
        }
        if changed.is_empty() {
            return Ok(user.clone());
        }
        let after = self
            .store
            .update_user(user.id, update)
            .await
            .map_err(ServiceError::not_found("no such user"))?;
        let detail = format!("{} via=sso", changed.join(" "));
        self.store
            .audit(NewAudit::new(
                None,
                "user_change",
                format!("user:{}", after.username),
                detail,
            ))
            .await?;
        Ok(after)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use store::{SqlStore, Store, UserUpdate};

    use super::*;

    async fn staff() -> (Staff, Arc<dyn Store>) {
        let store: Arc<dyn Store> = Arc::new(
            SqlStore::open("sqlite::memory:", store::AuditKey::new([5; 32]))
                .await
                .unwrap(),
        );
        (Staff::new(store.clone()), store)
    }

    fn ada(role: Role) -> SsoIdentity {
        SsoIdentity {
            subject: "https://login.example.org 2481".into(),
            username: "ada".into(),
            display_name: "Dr Ada".into(),
            role,
            skills: Some(vec!["nursing".into()]),
            languages: None,
        }
    }

    fn now() -> Timestamp {
        Timestamp::from_unix(1_800_000_000)
    }

    async fn lines(store: &Arc<dyn Store>) -> Vec<(String, String, String)> {
        let mut all: Vec<_> = store
            .audit_log(100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.subject, e.detail))
            .collect();
        all.reverse();
        all
    }

    #[tokio::test]
    async fn the_first_sign_in_makes_the_account_and_later_ones_follow_the_provider() {
        let (staff, store) = staff().await;
        let made = staff
            .sso_login(&ada(Role::Clinician), Some("10.0.0.7".into()), now())
            .await
            .unwrap();
        assert_eq!(made.role, Role::Clinician);
        assert_eq!(made.skills, ["nursing"]);
        assert_eq!(made.languages, ["en"]);
        assert_eq!(
            made.sso_subject.as_deref(),
            Some("https://login.example.org 2481")
        );

        // The provider moved Ada to the admins and renamed her skills.
        let mut promoted = ada(Role::Admin);
        promoted.skills = Some(vec!["billing".into()]);
        let again = staff.sso_login(&promoted, None, now()).await.unwrap();
        assert_eq!(again.id, made.id);
        assert_eq!(again.role, Role::Admin);
        assert_eq!(again.skills, ["billing"]);
        // The same again changes nothing.
        staff.sso_login(&promoted, None, now()).await.unwrap();

        let subject = "user:ada".to_string();
        assert_eq!(
            lines(&store).await,
            [
                (
                    "user_add".into(),
                    subject.clone(),
                    "role=clinician via=sso".into()
                ),
                ("login".into(), subject.clone(), "sso".into()),
                (
                    "user_change".into(),
                    subject.clone(),
                    "role=admin skills via=sso".into()
                ),
                ("login".into(), subject.clone(), "sso".into()),
                ("login".into(), subject, "sso".into()),
            ]
        );
    }

    #[tokio::test]
    async fn a_disabled_account_stays_shut_and_a_taken_name_is_not_handed_over() {
        let (staff, store) = staff().await;
        let user = staff
            .sso_login(&ada(Role::Clinician), None, now())
            .await
            .unwrap();
        store
            .update_user(
                user.id,
                UserUpdate {
                    disabled: Some(true),
                    ..UserUpdate::default()
                },
            )
            .await
            .unwrap();
        let e = staff
            .sso_login(&ada(Role::Clinician), None, now())
            .await
            .unwrap_err();
        assert!(matches!(e, SsoRefusal::Disabled), "{e}");

        // Someone else at the provider (another subject) named "ada".
        let mut namesake = ada(Role::Admin);
        namesake.subject = "https://login.example.org 9999".into();
        let e = staff.sso_login(&namesake, None, now()).await.unwrap_err();
        assert!(matches!(e, SsoRefusal::NameTaken), "{e}");
        let account = store.user_by_name("ada").await.unwrap();
        assert_eq!(account.role, Role::Clinician);
        let trail = lines(&store).await;
        assert!(trail.contains(&(
            "login_failed".into(),
            "user:ada".into(),
            "sso name taken".into()
        )));
        assert!(trail.contains(&(
            "login_failed".into(),
            "user:ada".into(),
            "sso account disabled".into()
        )));
    }

    #[tokio::test]
    async fn the_provider_cannot_demote_the_last_admin() {
        let (staff, _store) = staff().await;
        staff
            .sso_login(&ada(Role::Admin), None, now())
            .await
            .unwrap();
        let e = staff
            .sso_login(&ada(Role::Clinician), None, now())
            .await
            .unwrap_err();
        assert!(matches!(e, SsoRefusal::LastAdmin), "{e}");
    }
}
