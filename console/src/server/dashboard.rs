//! The dashboard over HTTP (`service::dashboard`): counts per hour, day or
//! week as JSON or CSV. Admins only (the service checks).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use service::ServiceError;
use service::dashboard::Bucket;

use super::session::Staff;
use super::{ApiError, Shared};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// `hour` (default), `day` or `week`.
    bucket: Option<String>,
    /// Unix seconds; default: a day (hour), 30 days (day) or 12 weeks
    /// (week) before `to`.
    from: Option<i64>,
    /// Unix seconds, excluded; default: now (this second included).
    to: Option<i64>,
    /// The clinic's time zone: seconds east of UTC (default 0).
    offset: Option<i64>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// `GET /api/dashboard?bucket=&from=&to=&offset=&format=`.
#[utoipa::path(operation_id = "dashboard_show", get, path = "/api/dashboard", tag = "dashboard", params(DashboardQuery), responses((status = 200, description = "Counts per bucket (docs/console.md), or their CSV with format=csv", body = service::dashboard::Dashboard), (status = 400, description = "A bad bucket, range, offset or format")))]
pub async fn show(
    State(s): State<Shared>,
    Staff(user): Staff,
    Query(q): Query<DashboardQuery>,
) -> Result<Response, ApiError> {
    let bucket = match q.bucket.as_deref() {
        None => Bucket::Hour,
        Some(b) => Bucket::parse(b)
            .ok_or_else(|| ServiceError::BadRequest("bucket is hour, day or week".into()))?,
    };
    // By default up to now, this second included.
    let to = q.to.unwrap_or_else(|| store::Timestamp::now().unix() + 1);
    let span = match bucket {
        Bucket::Hour => 86_400,
        Bucket::Day => 30 * 86_400,
        Bucket::Week => 12 * 7 * 86_400,
    };
    let from = q.from.unwrap_or(to - span);
    let dashboard = s
        .service
        .dashboard(&user, bucket, from, to, q.offset.unwrap_or(0))
        .await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(dashboard).into_response()),
        Some("csv") => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"carechat-dashboard.csv\"",
                ),
            ],
            dashboard.csv(),
        )
            .into_response()),
        Some(_) => Err(ServiceError::BadRequest("format is json or csv".into()).into()),
    }
}
