//! The edge's own rules, whatever the route: same-origin requests only for
//! state changes and the console's socket, the security headers, and one
//! JSON error shape.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use super::{get, login, send, state};

fn from_origin(method: &str, path: &str, origin: Option<&str>, cookie: &str) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "chat.clinic.example")
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(o) = origin {
        req = req.header(header::ORIGIN, o);
    }
    req.body(Body::from("{}")).unwrap()
}

#[tokio::test]
async fn another_site_cannot_act_for_a_logged_in_clinician() {
    let s = state().await;
    let cookie = login(&s).await;
    for (method, path) in [
        ("POST", "/api/me/status"),
        ("POST", "/api/conversations/c1/take"),
        ("POST", "/api/logout"),
        ("DELETE", "/api/blocks/1"),
        ("GET", "/ws/clinician"),
    ] {
        let (status, _, body) = send(
            &s,
            from_origin(method, path, Some("https://evil.example"), &cookie),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    // The session survived: the forged logout did nothing.
    assert_eq!(
        send(&s, get("/api/me", Some(&cookie))).await.0,
        StatusCode::OK
    );
    // The console's own page may: its Origin is the server's.
    let (status, _, body) = send(
        &s,
        from_origin(
            "POST",
            "/api/logout",
            Some("http://chat.clinic.example"),
            &cookie,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // Reading is not guarded, and the patient's socket takes any origin
    // (the widget lives on the clinic's own site): it is not refused here.
    let (status, _, _) = send(
        &s,
        from_origin("GET", "/ws/patient", Some("https://clinic.example"), ""),
    )
    .await;
    assert_ne!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let s = state().await;
    let cookie = login(&s).await;
    for (path, cookie, page) in [
        ("/", None, true),
        ("/console", None, true),
        ("/widget.js", None, false),
        ("/api/me", Some(cookie.as_str()), false),
        ("/api/conversations", Some(cookie.as_str()), false),
        ("/api/nothing-here", None, false),
    ] {
        let res = crate::server::app(s.clone())
            .oneshot(get(path, cookie))
            .await
            .unwrap();
        let h = res.headers();
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(
            csp.contains("script-src 'self'") || csp.starts_with("default-src 'self'"),
            page,
            "{path}: {csp}"
        );
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer", "{path}");
        if path.starts_with("/api/") {
            assert_eq!(h[header::CACHE_CONTROL], "no-store", "{path}");
        }
    }
}

#[tokio::test]
async fn malformed_requests_get_the_json_error_shape_without_parser_detail() {
    let s = state().await;
    let cookie = login(&s).await;
    let raw = |method: &str, path: &str, body: &str, content_type: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, cookie.as_str())
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    for (req, status, code) in [
        (
            raw("POST", "/api/login", "{\"username\": ", "application/json"),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            raw(
                "POST",
                "/api/me/status",
                "{\"state\": 1}",
                "application/json",
            ),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            raw(
                "POST",
                "/api/me/status",
                "status=busy",
                "application/x-www-form-urlencoded",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_request",
        ),
        (
            raw("GET", "/api/nope", "", "application/json"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            raw("PUT", "/api/me", "{}", "application/json"),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ] {
        let (got, _, body) = send(&s, req).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            !message.contains("line")
                && !message.contains("column")
                && !message.contains("expected"),
            "parser detail leaked: {message}"
        );
    }
}

/// The server's own accept loop, on a real port.
async fn listening(
    header_timeout: std::time::Duration,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<crate::server::AppState>,
) {
    let s = state().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(crate::server::listen::serve(
        listener,
        crate::server::app(s.clone()),
        header_timeout,
        None,
        crate::server::Drain::default(),
        std::future::pending(),
    ));
    (addr, s)
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (addr, _s) = listening(std::time::Duration::from_secs(1)).await;
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    // The server closes it (after the 1 s allowed); the bound only stops a
    // broken build from hanging the suite.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        slow.read_to_end(&mut rest),
    )
    .await
    .expect("the server closes a connection whose headers never end");
    assert!(read.is_ok());
    assert!(
        !String::from_utf8_lossy(&rest).contains("200 OK"),
        "{rest:?}"
    );

    // A client that sends its request in time is answered.
    let mut quick = tokio::net::TcpStream::connect(addr).await.unwrap();
    quick
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    quick.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
}

#[tokio::test]
async fn the_accept_loop_tells_each_request_its_clients_address() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (addr, s) = listening(std::time::Duration::from_secs(10)).await;
    let body = r#"{"username":"nina","password":"a long password"}"#;
    let request = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    client.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    let login = &s.service.store.audit_log(1).await.unwrap()[0];
    assert_eq!(login.action, "login");
    assert_eq!(login.address.as_deref(), Some("127.0.0.1"));
}
