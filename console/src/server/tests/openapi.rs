//! `/api/openapi.json` against the router's own table of routes: every
//! route but the pages is documented with its method, each `{param}` of a
//! path is declared, every documented operation is a route, and an
//! operation is open to anyone in the document exactly when the security
//! table (docs/security.md) says an anonymous caller is not refused, and
//! operation ids are unique.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::Value;

use super::{get, send};

/// The pages and scripts: served, but not API.
fn is_page(path: &str) -> bool {
    !(path.starts_with("/api/")
        || path.starts_with("/ws/")
        || ["/healthz", "/readyz", "/metrics"].contains(&path))
}

#[tokio::test]
async fn the_openapi_document_is_the_routes_the_server_answers() {
    let state = super::state().await;
    let (status, _, doc) = send(&state, get("/api/openapi.json", None)).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let security = super::authz::documented();
    let mut routed = BTreeSet::new();
    let mut problems = Vec::new();
    for (method, path) in crate::server::route_table() {
        if is_page(path) {
            continue;
        }
        let key = format!("{method} {path}");
        routed.insert(key.clone());
        let op = &doc["paths"][path][method.as_str().to_lowercase()];
        if op.is_null() {
            problems.push(format!("{key}: not in the document"));
            continue;
        }
        let declared: BTreeSet<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str())
            .collect();
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        if declared != in_path {
            problems.push(format!(
                "{key}: path parameters {in_path:?}, declared {declared:?}"
            ));
        }
        let answers = op["responses"].as_object().map(|r| r.len()).unwrap_or(0);
        if answers < 2 || op["responses"]["default"].is_null() {
            problems.push(format!(
                "{key}: needs its answers and the error shape ({answers} responses)"
            ));
        }
        if op["tags"].as_array().is_none_or(|t| t.is_empty()) {
            problems.push(format!("{key}: no tag"));
        }
        let public = op["security"] == serde_json::json!([{}]);
        match security.get(&key) {
            Some(row) if (row[0] != "401") != public => problems.push(format!(
                "{key}: open to anyone in the document: {public}; docs/security.md: anonymous gets {}",
                row[0]
            )),
            None => problems.push(format!("{key}: not in docs/security.md")),
            _ => {}
        }
    }
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let key = format!("{} {path}", method.to_uppercase());
            if !routed.contains(&key) {
                problems.push(format!("{key}: documented, but not a route"));
            }
            if !op["operationId"].as_str().is_some_and(|id| ids.insert(id)) {
                problems.push(format!("{key}: no operationId of its own"));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    assert!(routed.len() >= 65, "{} routes", routed.len());
    // Every schema referred to is in the document.
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    out.push(r);
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    for r in &found {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} is referred to but not in the document"
        );
    }
    assert!(
        found.contains(&"#/components/schemas/CannedView"),
        "{found:?}"
    );
    // The error shape every operation may answer.
    assert_eq!(
        doc["components"]["schemas"]["Error"]["properties"]["error"]["$ref"],
        Value::from("#/components/schemas/ErrorDetail")
    );
}
