//! Who is asking: the session cookie, the extractors that turn it into an
//! account of the right role, and logging in and out.
//!
//! A session ends at logout, after `sessions.idle_minutes` with no request
//! from its person, `sessions.lifetime_hours` after login, and whenever the
//! account is disabled, removed, or given a new role or password. Every
//! authenticated request but the console's socket check counts as activity.
//!
//! Roles, as route extractors: [`Authed`] is anyone logged in, [`Staff`] a
//! clinician or an admin (the only roles that see chats), [`Admin`] an
//! admin, [`AuditReader`] an admin or an auditor (the audit trail).

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use router::Presence;
use serde::Deserialize;
use serde_json::json;
use service::ServiceError;
use service::accounts::LoginError;
use service::tokens::{Secret, new_token, token_hash};
use store::{NewAudit, Role, StoreError, Timestamp, User};

use super::identity::ClientAddr;
use super::{ApiError, Shared};

/// The session cookie over plain HTTP.
const COOKIE: &str = "carechat_session";
/// Over HTTPS: a browser keeps a `__Host-` cookie only when it was set
/// `Secure`, by this host, for every path, so neither a page served over
/// plain HTTP nor a sibling subdomain can plant or overwrite one.
const HOST_COOKIE: &str = "__Host-carechat_session";

/// The session cookie's name, and the attributes it is set with.
fn cookie(s: &Shared) -> (&'static str, &'static str) {
    if s.https {
        (HOST_COOKIE, "; Secure")
    } else {
        (COOKIE, "")
    }
}

/// The value of the request's cookie `name`, if it carries one.
pub(super) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn session_token(s: &Shared, headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, cookie(s).0)
}

/// The hash of the request's session token, if it carries one.
pub fn session_hash(s: &Shared, headers: &HeaderMap) -> Option<String> {
    session_token(s, headers).map(|t| token_hash(&t))
}

/// The account behind a session hash, if the session is still good now.
pub async fn session_account(s: &Shared, hash: &str) -> Result<Option<User>, ApiError> {
    match s
        .service
        .store
        .session_user(hash, Timestamp::now(), s.sessions.idle_secs())
        .await
    {
        Ok(user) => Ok(Some(user)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn authenticate(parts: &Parts, s: &Shared) -> Result<User, ApiError> {
    let hash = session_hash(s, &parts.headers).ok_or(ApiError::Unauthenticated)?;
    let user = session_account(s, &hash)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    s.service
        .store
        .touch_session(&hash, Timestamp::now())
        .await?;
    Ok(user)
}

/// Anyone logged in.
pub struct Authed(pub User);

impl FromRequestParts<Shared> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Self, Self::Rejection> {
        authenticate(parts, s).await.map(Authed)
    }
}

/// A clinician or an admin: the roles that see chats.
pub struct Staff(pub User);

impl FromRequestParts<Shared> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Self, Self::Rejection> {
        let user = authenticate(parts, s).await?;
        match user.role {
            Role::Clinician | Role::Admin => Ok(Staff(user)),
            Role::Auditor => Err(ServiceError::Forbidden("an auditor does not see chats").into()),
        }
    }
}

/// An admin.
pub struct Admin(pub User);

impl FromRequestParts<Shared> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Self, Self::Rejection> {
        let user = authenticate(parts, s).await?;
        match user.role {
            Role::Admin => Ok(Admin(user)),
            _ => Err(ServiceError::Forbidden("only an admin can do that").into()),
        }
    }
}

/// An admin or an auditor: the audit trail.
pub struct AuditReader(pub User);

impl FromRequestParts<Shared> for AuditReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Self, Self::Rejection> {
        let user = authenticate(parts, s).await?;
        match user.role {
            Role::Admin | Role::Auditor => Ok(AuditReader(user)),
            Role::Clinician => {
                Err(ServiceError::Forbidden("only an admin or an auditor can do that").into())
            }
        }
    }
}

/// The staff member's own address, for the audit trail.
pub fn address(addr: &ClientAddr) -> Option<String> {
    addr.0.map(|a| a.to_string())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Login {
    username: String,
    password: String,
    /// The second factor: a code from the authenticator app, or a recovery
    /// code.
    totp: Option<String>,
}

/// Starts a session for `user` and the cookie that carries it.
pub(super) async fn start_session(s: &Shared, user: &User) -> Result<String, ApiError> {
    let token = new_token();
    let now = Timestamp::now();
    let lifetime = s.sessions.lifetime_secs();
    s.service
        .store
        .create_session(&token_hash(&token.0), user.id, now, now.plus_secs(lifetime))
        .await?;
    let (name, secure) = cookie(s);
    Ok(format!(
        "{name}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={lifetime}{secure}",
        token.0
    ))
}

#[utoipa::path(operation_id = "session_login", post, path = "/api/login", tag = "session", request_body = Login, security(()), responses((status = 200, description = "Signed in: the user, and the session cookie set", body = Object), (status = 401, description = "Wrong password, or a second factor needed"), (status = 403, description = "Single sign-on only"), (status = 423, description = "Locked after wrong passwords"), (status = 429, description = "Too many attempts")))]
pub async fn login(
    State(s): State<Shared>,
    addr: ClientAddr,
    Json(body): Json<Login>,
) -> Result<Response, ApiError> {
    if s.sso.as_ref().is_some_and(|p| p.only()) {
        return Err(ApiError::SsoOnly);
    }
    let user = s
        .service
        .staff
        .login(
            &body.username,
            Secret(body.password),
            body.totp.as_deref(),
            address(&addr),
            Timestamp::now(),
        )
        .await
        .map_err(|e| match e {
            LoginError::BadCredentials => ApiError::BadCredentials,
            e @ LoginError::MfaRequired { .. } => ApiError::MfaRequired(e.to_string()),
            LoginError::Service(e) => e.into(),
        })?;
    let cookie = start_session(&s, &user).await?;
    s.service.sync_clinician(&user).await;
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({"user": s.service.user_view(&user)})),
    )
        .into_response())
}

#[utoipa::path(operation_id = "session_logout", post, path = "/api/logout", tag = "session", responses((status = 204, description = "Signed out; the cookie cleared")))]
pub async fn logout(
    State(s): State<Shared>,
    headers: HeaderMap,
    addr: ClientAddr,
    Authed(user): Authed,
) -> Result<Response, ApiError> {
    if let Some(hash) = session_hash(&s, &headers) {
        s.service.store.delete_session(&hash).await?;
    }
    s.service
        .store
        .audit(
            NewAudit::new(
                Some(user.id),
                "logout",
                format!("user:{}", user.username),
                "",
            )
            .from_address(address(&addr)),
        )
        .await?;
    if user.role != Role::Auditor {
        s.service.set_presence(&user, Presence::Offline).await?;
    }
    let (name, secure) = cookie(&s);
    Ok((
        StatusCode::NO_CONTENT,
        [(
            header::SET_COOKIE,
            format!("{name}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"),
        )],
    )
        .into_response())
}

#[utoipa::path(operation_id = "session_me", get, path = "/api/me", tag = "session", responses((status = 200, description = "{\"user\",\"settings\"}", body = Object), (status = 401, description = "No session")))]
pub async fn me(State(s): State<Shared>, Authed(user): Authed) -> Json<serde_json::Value> {
    Json(json!({
        "user": s.service.user_view(&user),
        "settings": {"copy": s.console_copy},
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    current: String,
    new: String,
}

/// A user changes their own password. Every session of theirs ends, this
/// one too; the answer carries a fresh one.
#[utoipa::path(operation_id = "session_change_password", post, path = "/api/me/password", tag = "session", request_body = PasswordChange, responses((status = 204, description = "Changed; other sessions ended"), (status = 400, description = "Too short or too common"), (status = 401, description = "The current password is wrong")))]
pub async fn change_password(
    State(s): State<Shared>,
    Authed(user): Authed,
    Json(body): Json<PasswordChange>,
) -> Result<Response, ApiError> {
    let user = s
        .service
        .staff
        .change_own_password(&user, Secret(body.current), Secret(body.new))
        .await?;
    let cookie = start_session(&s, &user).await?;
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({"user": s.service.user_view(&user)})),
    )
        .into_response())
}

/// Proposes a two-factor secret to the caller: nothing changes until a code
/// from it is confirmed.
#[utoipa::path(operation_id = "session_propose_mfa", post, path = "/api/me/mfa", tag = "session", responses((status = 200, description = "{\"secret\",\"uri\",\"qr\"}: a new authenticator secret to confirm", body = Object)))]
pub async fn propose_mfa(
    State(s): State<Shared>,
    Authed(user): Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    let e = s.service.staff.propose_mfa(&user).await?;
    let qr = qrcode::QrCode::new(e.uri.as_bytes())
        .map_err(|err| ServiceError::Internal(anyhow::anyhow!("a QR code: {err}")))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    Ok(Json(
        json!({"secret": e.secret, "uri": e.uri, "qr_svg": qr}),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MfaCode {
    code: String,
}

/// Switches two-factor sign-in on with a code from the proposed secret;
/// the recovery codes come back, this once.
#[utoipa::path(operation_id = "session_confirm_mfa", post, path = "/api/me/mfa/confirm", tag = "session", request_body = MfaCode, responses((status = 200, description = "{\"recovery_codes\"}: two-factor sign-in is on", body = Object), (status = 400, description = "The code is wrong")))]
pub async fn confirm_mfa(
    State(s): State<Shared>,
    Authed(user): Authed,
    Json(body): Json<MfaCode>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let unix = Timestamp::now().unix().max(0) as u64;
    let codes = s.service.staff.confirm_mfa(&user, &body.code, unix).await?;
    Ok(Json(json!({"recovery_codes": codes})))
}
