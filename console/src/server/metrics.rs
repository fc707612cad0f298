//! `GET /metrics`: the counters and histograms `service::metrics` keeps,
//! in Prometheus's text format. Nothing in it names a patient, a message
//! or a member of staff. Answered to the machine itself (a scraper on the
//! loopback address) and to a scraper that presents `metrics_token` as a
//! bearer token; anyone else gets `403`.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::identity::ClientAddr;
use super::{ApiError, Shared};

/// Histogram buckets, in seconds: from a fast model decision to an hour's
/// wait for a person.
const BUCKETS: [f64; 16] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .expect("the buckets are not empty")
            .install_recorder()
            .expect("one metrics recorder per process")
    })
}

/// Keeps the recorder's histograms from growing between scrapes.
pub async fn upkeep() {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        every.tick().await;
        handle().run_upkeep();
    }
}

/// Whether `token` is the configured one (compared in constant time).
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[utoipa::path(operation_id = "metrics_metrics", get, path = "/metrics", tag = "meta", security(()), responses((status = 200, description = "Prometheus text (docs/metrics.md)", body = String, content_type = "text/plain"), (status = 403, description = "Not the machine itself, and no metrics_token bearer")))]
pub async fn metrics(
    State(s): State<Shared>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let local = addr.is_some_and(|a| a.is_loopback());
    let token = s
        .metrics_token
        .as_deref()
        .is_some_and(|t| bearer_matches(&headers, t));
    if !local && !token {
        return Err(service::ServiceError::Forbidden(
            "metrics are for the machine itself or a scraper with metrics_token",
        )
        .into());
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle().render(),
    )
        .into_response())
}
