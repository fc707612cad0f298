//! The admin's account API: the same operations as `carechat user ...`,
//! through `service::accounts::Staff`, audited under the admin's name.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use service::accounts::Profile;
use service::tokens::Secret;
use service::views::AccountView;
use store::{User, UserId};

use super::session::Admin;
use super::{ApiError, Shared};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Removed accounts too.
    #[serde(default)]
    removed: bool,
}

#[utoipa::path(operation_id = "admin_users", get, path = "/api/users", tag = "accounts", params(ListQuery), responses((status = 200, description = "{\"users\":[...]}", body = Object)))]
pub async fn users(
    State(s): State<Shared>,
    Admin(admin): Admin,
    Query(q): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let users = s.service.staff.accounts(Some(&admin), q.removed).await?;
    let users: Vec<AccountView> = users.iter().map(AccountView::from).collect();
    Ok(Json(json!({ "users": users })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    username: String,
    password: String,
    role: String,
    display_name: Option<String>,
    skills: Option<String>,
    languages: Option<String>,
    max_chats: Option<usize>,
    licensed_states: Option<String>,
    email: Option<String>,
}

#[utoipa::path(operation_id = "admin_add_user", post, path = "/api/users", tag = "accounts", request_body = NewAccount, responses((status = 201, description = "{\"user\"}", body = Object), (status = 400, description = "A bad name, role or password"), (status = 409, description = "The name is taken")))]
pub async fn add_user(
    State(s): State<Shared>,
    Admin(admin): Admin,
    Json(body): Json<NewAccount>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let profile = Profile {
        display_name: body.display_name,
        role: Some(body.role),
        skills: body.skills,
        languages: body.languages,
        max_chats: body.max_chats,
        licensed_states: body.licensed_states,
        email: body.email,
    };
    let user = s
        .service
        .staff
        .add_account(
            Some(&admin),
            &body.username,
            &profile,
            Secret(body.password),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "user": AccountView::from(&user) })),
    ))
}

/// After a change: the router routes by the new profile, and an account
/// that can no longer take chats (an auditor, disabled, removed) is offline
/// to it (`Service::sync_clinician`).
async fn changed(s: &Shared, user: User) -> Json<serde_json::Value> {
    s.service.sync_clinician(&user).await;
    Json(json!({ "user": AccountView::from(&user) }))
}

#[utoipa::path(operation_id = "admin_change_user", patch, path = "/api/users/{id}", tag = "accounts", params(("id" = i64, Path, description = "The account")), request_body(content = Object, description = "What changes: display_name, role, skills, languages, max_chats, licensed_states (docs/security.md)"), responses((status = 200, description = "{\"user\"}", body = Object), (status = 404, description = "No such account")))]
pub async fn change_user(
    State(s): State<Shared>,
    Admin(admin): Admin,
    Path(id): Path<UserId>,
    Json(profile): Json<Profile>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = s
        .service
        .staff
        .change_account(Some(&admin), id, &profile)
        .await?;
    Ok(changed(&s, user).await)
}

#[utoipa::path(operation_id = "admin_disable_user", post, path = "/api/users/{id}/disable", tag = "accounts", params(("id" = i64, Path, description = "The account")), responses((status = 200, description = "{\"user\"}: disabled, their sessions and consoles ended", body = Object), (status = 404, description = "No such account")))]
pub async fn disable_user(
    State(s): State<Shared>,
    Admin(admin): Admin,
    Path(id): Path<UserId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = s.service.staff.set_disabled(Some(&admin), id, true).await?;
    Ok(changed(&s, user).await)
}

#[utoipa::path(operation_id = "admin_enable_user", post, path = "/api/users/{id}/enable", tag = "accounts", params(("id" = i64, Path, description = "The account")), responses((status = 200, description = "{\"user\"}: enabled", body = Object), (status = 404, description = "No such account")))]
pub async fn enable_user(
    State(s): State<Shared>,
    Admin(admin): Admin,
    Path(id): Path<UserId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = s
        .service
        .staff
        .set_disabled(Some(&admin), id, false)
        .await?;
    Ok(changed(&s, user).await)
}

#[utoipa::path(operation_id = "admin_remove_user", delete, path = "/api/users/{id}", tag = "accounts", params(("id" = i64, Path, description = "The account")), responses((status = 200, description = "{\"user\"}: removed, their sessions ended", body = Object), (status = 404, description = "No such account"), (status = 409, description = "The last admin")))]
pub async fn remove_user(
    State(s): State<Shared>,
    Admin(admin): Admin,
    Path(id): Path<UserId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = s.service.staff.remove_account(Some(&admin), id).await?;
    Ok(changed(&s, user).await)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordReset {
    password: String,
}

#[utoipa::path(operation_id = "admin_reset_password", post, path = "/api/users/{id}/password", tag = "accounts", params(("id" = i64, Path, description = "The account")), request_body = PasswordReset, responses((status = 200, description = "{\"user\"}: a new password, their sessions ended", body = Object), (status = 400, description = "Too short or too common"), (status = 404, description = "No such account")))]
pub async fn reset_password(
    State(s): State<Shared>,
    Admin(admin): Admin,
    Path(id): Path<UserId>,
    Json(body): Json<PasswordReset>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = s
        .service
        .staff
        .reset_password(Some(&admin), id, Secret(body.password))
        .await?;
    Ok(changed(&s, user).await)
}

#[utoipa::path(operation_id = "admin_unlock_user", post, path = "/api/users/{id}/unlock", tag = "accounts", params(("id" = i64, Path, description = "The account")), responses((status = 200, description = "{\"user\"}: unlocked after wrong passwords", body = Object), (status = 404, description = "No such account")))]
pub async fn unlock_user(
    State(s): State<Shared>,
    Admin(admin): Admin,
    Path(id): Path<UserId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = s.service.staff.unlock(Some(&admin), id).await?;
    Ok(Json(json!({ "user": AccountView::from(&user) })))
}

/// Turns two-factor sign-in off for an account (a lost phone).
#[utoipa::path(operation_id = "admin_reset_mfa", post, path = "/api/users/{id}/mfa/reset", tag = "accounts", params(("id" = i64, Path, description = "The account")), responses((status = 200, description = "{\"user\"}: their second factor reset", body = Object), (status = 404, description = "No such account")))]
pub async fn reset_mfa(
    State(s): State<Shared>,
    Admin(admin): Admin,
    Path(id): Path<UserId>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = s.service.staff.reset_mfa(Some(&admin), id).await?;
    Ok(Json(json!({ "user": AccountView::from(&user) })))
}
