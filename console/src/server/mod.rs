//! The HTTP and WebSocket server: the edge in front of the conversation
//! core.
//!
//! Handlers are thin: they parse, authenticate and authorize, and call the
//! [`service::Service`], which holds the conversation logic and talks to the
//! store, the bot and the router. Sockets are pumped here: frames the
//! service queues are written out, frames the browser sends are handed in.

mod admin;
mod api;
mod assets;
mod audit;
mod edge;
mod error;
mod identity;
mod patient;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, State};
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use service::{Service, SystemClock};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::config::Config;
use store::Store;

pub use error::ApiError;

pub struct AppState {
    /// The conversation core.
    pub service: Arc<Service>,
    /// Hashes browser ids and addresses before they are stored.
    pub server_key: crate::auth::ServerKey,
    /// How long staff sessions last.
    pub sessions: crate::config::Sessions,
    /// Reverse proxies whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

pub type Shared = Arc<AppState>;

/// Every route. Tests drive this in-process; `serve` binds it to a port.
pub fn app(state: Shared) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/widget.js", get(assets::widget))
        .route("/console", get(assets::console))
        .route("/console.js", get(assets::console_js))
        .route("/console.css", get(assets::console_css))
        .route("/admin", get(assets::admin))
        .route("/admin.js", get(assets::admin_js))
        .route("/admin.css", get(assets::admin_css))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/ws/patient", get(patient::ws))
        .route("/ws/clinician", get(api::ws))
        .route("/api/login", post(session::login))
        .route("/api/logout", post(session::logout))
        .route("/api/me", get(session::me))
        .route("/api/me/password", post(session::change_password))
        .route("/api/me/status", post(api::set_status))
        .route("/api/users", get(admin::users).post(admin::add_user))
        .route(
            "/api/users/{id}",
            axum::routing::patch(admin::change_user).delete(admin::remove_user),
        )
        .route("/api/users/{id}/disable", post(admin::disable_user))
        .route("/api/users/{id}/enable", post(admin::enable_user))
        .route("/api/users/{id}/unlock", post(admin::unlock_user))
        .route("/api/users/{id}/password", post(admin::reset_password))
        .route("/api/conversations", get(api::conversations))
        .route("/api/conversations/{id}", get(api::conversation))
        .route("/api/conversations/{id}/take", post(api::take))
        .route("/api/conversations/{id}/messages", post(api::send))
        .route("/api/conversations/{id}/close", post(api::close))
        .route("/api/conversations/{id}/block", post(api::block))
        .route("/api/conversations/{id}/accept", post(api::accept))
        .route("/api/conversations/{id}/decline", post(api::decline))
        .route("/api/conversations/{id}/transfer", post(api::transfer))
        .route("/api/conversations/{id}/start", post(api::start))
        .route("/api/team", get(api::team))
        .route(
            "/api/team/{user}",
            get(api::team_thread).post(api::team_send),
        )
        .route("/api/held", get(api::held))
        .route("/api/held/{id}/dismiss", post(api::dismiss_held))
        .route("/api/blocks", get(api::blocks))
        .route("/api/blocks/{id}", axum::routing::delete(api::unblock))
        .route("/api/audit", get(audit::search))
        .route("/api/audit/export", get(audit::export))
        .fallback(|| async { ApiError::Service(service::ServiceError::NotFound("no such route")) })
        .layer(RequestBodyLimitLayer::new(64 * 1024))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(edge::json_errors))
        .layer(axum::middleware::from_fn(edge::same_origin))
        .layer(axum::middleware::from_fn(edge::headers))
        .layer(
            // Spans name the matched route, never the raw URI: query strings
            // carry resume tokens.
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map(MatchedPath::as_str)
                        .unwrap_or("unmatched");
                    tracing::debug_span!("http", method = %req.method(), route)
                })
                // A 503 from /readyz while the model warms up is expected; real
                // internal errors are logged, with their cause, by ApiError.
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::COOKIE,
            header::AUTHORIZATION,
        ]))
        .layer(SetSensitiveResponseHeadersLayer::new([header::SET_COOKIE]))
        .with_state(state)
}

async fn readyz(State(s): State<Shared>) -> (StatusCode, &'static str) {
    if s.service.ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    }
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let whitelist = Arc::new(crate::engine::load_whitelist(&config.intents_dir)?);
    let (store, server_key) = crate::open_store(&config).await?;
    let store: Arc<dyn Store> = Arc::new(store);
    let service = Arc::new(Service::new(
        store,
        whitelist,
        config.routing.policy(),
        Arc::new(SystemClock),
    ));
    service.restore().await?;
    let state = Arc::new(AppState {
        service: service.clone(),
        server_key,
        sessions: config.sessions.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
    });
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    println!("Carechat is listening on http://{addr}/ (clinician console: http://{addr}/console)");
    // Offers expire, waits turn into fallbacks or the contact form: the
    // router's rules that depend on time alone.
    tokio::spawn(service.clone().run_ticks());
    let warm = service;
    tokio::spawn(async move {
        match crate::engine::load_translations(&config).await {
            Ok(Some(t)) => warm.use_translations(t).await,
            Ok(None) => {}
            Err(e) => {
                eprintln!("error: the translation models could not load: {e:#}");
                std::process::exit(1);
            }
        }
        match crate::engine::start_bot(&config).await {
            Ok(bot) => {
                warm.set_bot(bot);
                tracing::info!("model warmed up; ready");
            }
            Err(e) => {
                eprintln!("error: the bot could not start: {e:#}");
                std::process::exit(1);
            }
        }
    });
    let app = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
