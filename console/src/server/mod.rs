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
mod canned;
mod dashboard;
mod edge;
mod error;
mod files;
mod identity;
mod left;
mod listen;
mod metrics;
mod openapi;
mod patient;
mod push;
mod session;
mod sso;
mod tls;
mod transcript;
mod workbench;

use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, State};
use axum::http::{Method, Request, StatusCode, header};
use axum::routing::MethodFilter;
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
    /// Browsers reach the server over HTTPS: the session cookie is
    /// `__Host-` and `Secure`, and HSTS is sent.
    pub https: bool,
    /// The clinic's identity provider, when single sign-on is set up.
    pub sso: Option<Arc<crate::sso::Provider>>,
    /// Whether the console lets staff copy from the chat view.
    pub console_copy: bool,
    /// A scraper presenting this bearer token may read `/metrics` from
    /// another machine.
    pub metrics_token: Option<String>,
    /// Shutting down: what is open finishes, then closes ([`Drain`]).
    pub drain: Drain,
}

pub type Shared = Arc<AppState>;

/// Each WebSocket's read buffer. tungstenite's default is 128 KiB, held
/// by every socket however idle: with 5,000 patients waiting that was most
/// of the server's memory (docs/deploy.md, "Capacity"). Frames are small
/// (64 KiB at most, most under 1 KiB); a larger one is read in more turns.
/// Writes go out as each frame is sent (`write_buffer_size(0)`): the
/// writer sends frame by frame anyway.
const SOCKET_READ_BUFFER: usize = 4 * 1024;

/// How long a shutdown waits for open sockets and requests to finish.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// The close code a socket gets when the server shuts down (RFC 6455's
/// "Service Restart"): reconnect, to this server once it is back or to
/// another behind the same address.
pub const RESTARTING: u16 = 1012;

/// A graceful shutdown (SIGTERM, or Ctrl-C): the server stops accepting,
/// every connection and socket finishes what it has in hand (a patient's
/// message already received is answered), sockets close with
/// [`RESTARTING`], and the process exits once none is open, or after
/// [`SHUTDOWN_GRACE`].
#[derive(Clone)]
pub struct Drain(Arc<DrainState>);

struct DrainState {
    draining: tokio::sync::watch::Sender<bool>,
    open: tokio::sync::watch::Sender<usize>,
}

/// Holds a connection or socket open against a shutdown; dropped when it
/// ends.
pub struct Held(Drain);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.0.open.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Default for Drain {
    fn default() -> Drain {
        Drain(Arc::new(DrainState {
            draining: tokio::sync::watch::Sender::new(false),
            open: tokio::sync::watch::Sender::new(0),
        }))
    }
}

impl Drain {
    /// Counts a connection or socket as open until the guard is dropped.
    pub fn hold(&self) -> Held {
        self.0.open.send_modify(|n| *n += 1);
        Held(self.clone())
    }

    /// Resolves once the shutdown starts.
    pub async fn started(&self) {
        let mut draining = self.0.draining.subscribe();
        let _ = draining.wait_for(|d| *d).await;
    }

    /// Whether the shutdown started.
    pub fn is_started(&self) -> bool {
        *self.0.draining.borrow()
    }

    fn start(&self) {
        self.0.draining.send_replace(true);
    }

    /// Waits until nothing is held open, at most `within`; how many still
    /// were.
    async fn finished(&self, within: std::time::Duration) -> usize {
        let mut open = self.0.open.subscribe();
        let _ = tokio::time::timeout(within, open.wait_for(|n| *n == 0)).await;
        *open.borrow()
    }
}

/// A socket's writer: sends its frames as they are queued; told to close,
/// sends what is still queued, then the close frame (a shutdown's
/// [`RESTARTING`], an ended session's code).
pub(super) async fn pump(
    mut sink: futures_util::stream::SplitSink<
        axum::extract::ws::WebSocket,
        axum::extract::ws::Message,
    >,
    mut rx: tokio::sync::mpsc::Receiver<String>,
    mut close: tokio::sync::oneshot::Receiver<axum::extract::ws::CloseFrame>,
) {
    use axum::extract::ws::Message;
    use futures_util::SinkExt;
    loop {
        tokio::select! {
            frame = rx.recv() => match frame {
                Some(frame) => {
                    if sink.send(Message::Text(frame.into())).await.is_err() {
                        return;
                    }
                }
                None => return,
            },
            why = &mut close => {
                while let Ok(frame) = rx.try_recv() {
                    if sink.send(Message::Text(frame.into())).await.is_err() {
                        return;
                    }
                }
                if let Ok(why) = why {
                    let _ = sink.send(Message::Close(Some(why))).await;
                }
                return;
            }
        }
    }
}

/// SIGTERM (a service manager stopping the server) or Ctrl-C.
async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// The routes, registered through this so that the list of them exists
/// apart from axum's router: the authorization matrix (`tests/authz.rs`)
/// walks every one.
struct Routes {
    router: Router<Shared>,
    /// The routes that take a file: the body limit is their own.
    uploads: Router<Shared>,
    table: Vec<(Method, &'static str)>,
}

impl Routes {
    fn on<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: axum::handler::Handler<T, Shared>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a standard method");
        self.table.push((method, path));
        self.router = self.router.route(path, axum::routing::on(filter, handler));
        self
    }

    /// A route that takes a file as its body ([`files`]), read by the
    /// handler within the clinic's limit rather than the API's 64 KB.
    fn upload<H, T>(mut self, path: &'static str, handler: H) -> Self
    where
        H: axum::handler::Handler<T, Shared>,
        T: 'static,
    {
        self.table.push((Method::POST, path));
        self.uploads = self.uploads.route(path, axum::routing::post(handler));
        self
    }
}

fn routes() -> Routes {
    let (get, post, patch, delete, put) = (
        Method::GET,
        Method::POST,
        Method::PATCH,
        Method::DELETE,
        Method::PUT,
    );
    Routes {
        router: Router::new(),
        uploads: Router::new(),
        table: Vec::new(),
    }
    .on(get.clone(), "/", assets::index)
    .on(get.clone(), "/widget.js", assets::widget)
    .on(get.clone(), "/widget-files.js", assets::widget_files)
    .on(get.clone(), "/console", assets::console)
    .on(get.clone(), "/console.js", assets::console_js)
    .on(get.clone(), "/console.css", assets::console_css)
    .on(get.clone(), "/admin", assets::admin)
    .on(get.clone(), "/admin.js", assets::admin_js)
    .on(get.clone(), "/admin.css", assets::admin_css)
    .on(get.clone(), "/transcript", assets::transcript)
    .on(get.clone(), "/transcript.js", assets::transcript_js)
    .on(get.clone(), "/manifest.webmanifest", assets::manifest)
    .on(get.clone(), "/icon.svg", assets::icon)
    .on(get.clone(), "/sw.js", assets::service_worker)
    .on(get.clone(), "/reply", assets::reply)
    .on(get.clone(), "/reply.js", assets::reply_js)
    .on(get.clone(), "/healthz", health)
    .on(get.clone(), "/api/openapi.json", openapi::openapi_json)
    .on(get.clone(), "/metrics", metrics::metrics)
    .on(get.clone(), "/readyz", readyz)
    .on(get.clone(), "/ws/patient", patient::ws)
    .on(get.clone(), "/ws/clinician", api::ws)
    .on(post.clone(), "/api/login", session::login)
    .on(post.clone(), "/api/logout", session::logout)
    .on(get.clone(), "/api/sso", sso::status)
    .on(get.clone(), "/api/sso/login", sso::login)
    .on(get.clone(), "/api/sso/callback", sso::callback)
    .on(get.clone(), "/api/me", session::me)
    .on(post.clone(), "/api/me/password", session::change_password)
    .on(post.clone(), "/api/me/status", api::set_status)
    .on(post.clone(), "/api/me/mfa", session::propose_mfa)
    .on(post.clone(), "/api/me/mfa/confirm", session::confirm_mfa)
    .on(get.clone(), "/api/users", admin::users)
    .on(post.clone(), "/api/users", admin::add_user)
    .on(patch, "/api/users/{id}", admin::change_user)
    .on(delete.clone(), "/api/users/{id}", admin::remove_user)
    .on(post.clone(), "/api/users/{id}/disable", admin::disable_user)
    .on(post.clone(), "/api/users/{id}/enable", admin::enable_user)
    .on(post.clone(), "/api/users/{id}/unlock", admin::unlock_user)
    .on(
        post.clone(),
        "/api/users/{id}/password",
        admin::reset_password,
    )
    .on(post.clone(), "/api/users/{id}/mfa/reset", admin::reset_mfa)
    .on(get.clone(), "/api/conversations", api::conversations)
    .on(get.clone(), "/api/conversations/{id}", api::conversation)
    .on(
        delete.clone(),
        "/api/conversations/{id}",
        api::delete_conversation,
    )
    .on(
        delete.clone(),
        "/api/conversations/{id}/patient",
        api::delete_patient,
    )
    .on(
        get.clone(),
        "/api/conversations/{id}/transcript",
        transcript::practice,
    )
    .on(
        post.clone(),
        "/api/conversations/{id}/transcript/link",
        transcript::make_link,
    )
    .on(post.clone(), "/api/transcript", transcript::by_link)
    .on(post.clone(), "/api/conversations/{id}/take", api::take)
    .on(post.clone(), "/api/conversations/{id}/messages", api::send)
    .on(
        post.clone(),
        "/api/conversations/{id}/messages/{message}/reveal",
        api::reveal,
    )
    .on(post.clone(), "/api/conversations/{id}/close", api::close)
    .on(post.clone(), "/api/conversations/{id}/block", api::block)
    .on(post.clone(), "/api/conversations/{id}/accept", api::accept)
    .on(
        post.clone(),
        "/api/conversations/{id}/decline",
        api::decline,
    )
    .on(
        post.clone(),
        "/api/conversations/{id}/transfer",
        api::transfer,
    )
    .on(post.clone(), "/api/conversations/{id}/start", api::start)
    .on(get.clone(), "/api/team", api::team)
    .on(get.clone(), "/api/team/{user}", api::team_thread)
    .on(post.clone(), "/api/team/{user}", api::team_send)
    .on(get.clone(), "/api/held", api::held)
    .on(post.clone(), "/api/held/{id}/dismiss", api::dismiss_held)
    .on(get.clone(), "/api/blocks", api::blocks)
    .on(delete.clone(), "/api/blocks/{id}", api::unblock)
    .on(get.clone(), "/api/whitelist", workbench::show)
    .on(
        put.clone(),
        "/api/whitelist/draft/intents/{id}",
        workbench::put_intent,
    )
    .on(
        delete.clone(),
        "/api/whitelist/draft/intents/{id}",
        workbench::delete_intent,
    )
    .on(
        put.clone(),
        "/api/whitelist/draft/messages",
        workbench::put_messages,
    )
    .on(
        put.clone(),
        "/api/whitelist/draft/tests",
        workbench::put_tests,
    )
    .on(delete.clone(), "/api/whitelist/draft", workbench::discard)
    .on(post.clone(), "/api/whitelist/publish", workbench::publish)
    .on(get.clone(), "/api/whitelist/versions", workbench::versions)
    .on(post.clone(), "/api/whitelist/rollback", workbench::rollback)
    .on(
        post.clone(),
        "/api/whitelist/draft/try",
        workbench::try_message,
    )
    .on(get.clone(), "/api/canned", canned::list)
    .on(post.clone(), "/api/canned", canned::add)
    .on(put, "/api/canned/{id}", canned::change)
    .on(delete, "/api/canned/{id}", canned::remove)
    .on(post.clone(), "/api/canned/{id}/use", canned::used)
    .on(get.clone(), "/api/left-messages", left::list)
    .on(post.clone(), "/api/left-messages/{id}/done", left::done)
    .on(post.clone(), "/api/left-messages/{id}/notify", left::notify)
    .on(post.clone(), "/api/reply/code", left::reply_code)
    .on(post.clone(), "/api/reply", left::read_reply)
    .on(post.clone(), "/api/left-messages/{id}/reopen", left::reopen)
    .upload("/api/conversations/{id}/files", files::send)
    .on(get.clone(), "/api/files/{id}", files::get)
    .upload("/api/patient/files", files::patient_send)
    .on(get.clone(), "/api/patient/files/{id}", files::patient_get)
    .on(Method::OPTIONS, "/api/patient/files", files::preflight)
    .on(
        Method::OPTIONS,
        "/api/patient/files/{id}",
        files::preflight_one,
    )
    .on(get.clone(), "/api/push/key", push::key)
    .on(post.clone(), "/api/me/push", push::subscribe)
    .on(post, "/api/me/push/remove", push::unsubscribe)
    .on(get.clone(), "/api/dashboard", dashboard::show)
    .on(get.clone(), "/api/audit", audit::search)
    .on(get, "/api/audit/export", audit::export)
}

/// Every route the server answers, by method and path pattern.
#[cfg(test)]
pub(crate) fn route_table() -> Vec<(Method, &'static str)> {
    routes().table
}

/// Every route. Tests drive this in-process; `serve` binds it to a port.
pub fn app(state: Shared) -> Router {
    let routes = routes();
    routes
        .router
        .layer(RequestBodyLimitLayer::new(64 * 1024))
        .merge(routes.uploads)
        .fallback(|| async { ApiError::Service(service::ServiceError::NotFound("no such route")) })
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(edge::json_errors))
        .layer(axum::middleware::from_fn(edge::same_origin))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            edge::headers,
        ))
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

/// Whether the process is up.
#[utoipa::path(operation_id = "health", get, path = "/healthz", tag = "meta", security(()), responses((status = 200, description = "The process is up", body = String, content_type = "text/plain")))]
async fn health() -> &'static str {
    "ok"
}

/// Whether the models are loaded and warm: a load balancer's readiness.
#[utoipa::path(operation_id = "readyz", get, path = "/readyz", tag = "meta", security(()), responses((status = 200, description = "The models are loaded and warm", body = String, content_type = "text/plain"), (status = 503, description = "Still starting", body = String, content_type = "text/plain")))]
async fn readyz(State(s): State<Shared>) -> (StatusCode, &'static str) {
    if s.service.ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    }
}

/// Raises the soft open-file limit to the hard one: every socket is a
/// descriptor, and the default soft limit (1024 on most systems) would
/// refuse connections long before memory runs out. Says so in the log.
fn raise_open_files() {
    let before = rlimit::Resource::NOFILE.get().map(|(soft, _)| soft);
    match (before, rlimit::increase_nofile_limit(u64::MAX)) {
        (Ok(before), Ok(now)) if now > before => {
            tracing::info!(before, now, "open-file limit raised (one per socket)")
        }
        (_, Ok(now)) => tracing::info!(now, "open-file limit (one per socket)"),
        (_, Err(e)) => tracing::warn!(error = %e, "the open-file limit could not be raised"),
    }
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    raise_open_files();
    metrics::handle();
    tokio::spawn(metrics::upkeep());
    // One server per database, and no restore under it.
    let _lock = crate::data::lock(&config)?;
    let (store, server_key) = crate::open_store(&config).await?;
    let whitelist = Arc::new(crate::engine::live_whitelist(&config, &store).await?);
    let store = Arc::new(store);
    // A rotation (`carechat keys rotate`) needs no restart.
    tokio::spawn(crate::master::watch(
        store.clone(),
        crate::master::Source::of(&config),
    ));
    let sql_store = store.clone();
    let store: Arc<dyn Store> = store;
    let base_bot = Arc::new(std::sync::OnceLock::new());
    let mut service = Service::new(
        store.clone(),
        whitelist,
        config.routing.policy(),
        Arc::new(SystemClock),
    )
    .with_gate_tolerance(config.gate_tolerance)
    .with_clinic(config.clinic.clone())
    .with_workshop(Arc::new(crate::engine::BotWorkshop {
        base: base_bot.clone(),
        cache: crate::cache::FileCache::new(&config.models_dir),
    }))
    .with_limits(config.limits.patient())
    .with_retention(config.retention.service())
    .with_staff(crate::staff(&config, store.clone(), &server_key));
    service = service
        .with_intake(service::intake::fields(&config.intake.fields).map_err(anyhow::Error::msg)?);
    service = service.with_files(config.files.service()?);
    service = service.with_pusher(Arc::new(crate::push::WebPush::load_or_create(
        config.vapid_key_path().as_deref(),
        config.push_subject(),
    )?));
    if config.files.enabled {
        if !config.files.scan {
            tracing::warn!("files are taken without a virus scan (files.scan = false)");
        } else if let Err(e) = crate::clamd::Clamd::parse(&config.files.clamd)?
            .ping()
            .await
        {
            // Not fatal: files are refused, saying why, until it answers.
            tracing::warn!(error = %e, "the virus scanner does not answer: files will be refused until it does (docs/files.md)");
        }
    }
    if let Some(notifications) = config.notify.service()? {
        service = service.with_notifications(notifications);
    }
    if let Some(courier) = config.retention.courier()? {
        service = service.with_courier(Arc::new(courier));
    }
    // On PostgreSQL, one node of however many share the database.
    let node = config.postgres().then(crate::cluster::node_name);
    if let Some(node) = &node {
        service = service.with_cluster(sql_store.clone(), node.clone());
        tracing::info!(
            node = node.as_str(),
            "serving as one node of the clinic's cluster (PostgreSQL)"
        );
    }
    let service = Arc::new(service);
    if let Some(node) = node {
        let key = server_key.relay_key();
        let (relay, queue) = crate::cluster::PgRelay::new(node.clone(), key);
        service.hub.set_relay(Arc::new(relay));
        tokio::spawn(crate::cluster::send(sql_store.clone(), node, queue));
        tokio::spawn(crate::cluster::listen(
            config.db.clone(),
            service.clone(),
            key,
        ));
    }
    service.restore().await?;
    let resealed = service.staff.reseal_secrets().await?;
    if resealed > 0 {
        tracing::info!(
            accounts = resealed,
            "two-factor secrets sealed again under AES-256-GCM"
        );
    }
    let state = Arc::new(AppState {
        service: service.clone(),
        server_key,
        sessions: config.sessions.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
        https: config.https(),
        sso: config
            .sso
            .clone()
            .map(|c| Arc::new(crate::sso::Provider::new(c))),
        console_copy: config.console_copy,
        metrics_token: config.metrics_token.clone(),
        drain: Drain::default(),
    });
    let header_timeout = std::time::Duration::from_secs(config.header_timeout_secs.max(1));
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            let certificates = tls::Certificates::open(cert, key)?;
            let acceptor = certificates.acceptor()?;
            tokio::spawn(certificates.watch(std::time::Duration::from_secs(5)));
            Some(acceptor)
        }
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!(
        "Carechat is listening on {scheme}://{addr}/ (clinician console: {scheme}://{addr}/console)"
    );
    // Offers expire, waits turn into fallbacks or the contact form: the
    // router's rules that depend on time alone.
    tokio::spawn(service.clone().run_ticks());
    tokio::spawn(service.clone().run_retention());
    let warm = service;
    let live = warm.whitelist();
    tokio::spawn(async move {
        match crate::engine::load_translations(&config).await {
            Ok(Some(t)) => warm.use_translations(t).await,
            Ok(None) => {}
            Err(e) => {
                eprintln!("error: the translation models could not load: {e:#}");
                std::process::exit(1);
            }
        }
        match crate::engine::start_bot_with(&config, live).await {
            Ok(bot) => {
                let _ = base_bot.set(bot.clone());
                warm.set_bot(bot);
                tracing::info!("model warmed up; ready");
            }
            Err(e) => {
                eprintln!("error: the bot could not start: {e:#}");
                std::process::exit(1);
            }
        }
    });
    let drain = state.drain.clone();
    listen::serve(
        listener,
        app(state),
        header_timeout,
        tls,
        drain.clone(),
        stop_signal(),
    )
    .await;
    tracing::info!(
        "shutting down: no new connections; open ones finish, sockets are told to reconnect"
    );
    drain.start();
    let open = drain.finished(SHUTDOWN_GRACE).await;
    if open > 0 {
        tracing::warn!(
            open,
            "shut down with connections still open after the grace period"
        );
    } else {
        tracing::info!("shut down cleanly");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
