//! TLS built in: HTTPS on the server's own accept loop, HSTS, the
//! `__Host-` session cookie, and a renewed certificate put in use without a
//! restart.

use std::path::Path;
use std::sync::Arc;

use axum::http::StatusCode;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

use super::{get, post, send, state};
use crate::server::tls::{Certificates, Reload};

/// A fresh self-signed certificate for `localhost`, and its key, as PEM.
fn certificate() -> (String, String) {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    (c.cert.pem(), c.key_pair.serialize_pem())
}

fn write(dir: &Path, (cert, key): &(String, String)) {
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
}

/// `GET path` over TLS, trusting only `trusted`: the raw response, or the
/// handshake's error.
async fn fetch(
    addr: std::net::SocketAddr,
    trusted: &str,
    path: &str,
) -> Result<String, std::io::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(trusted.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await?;
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut response = String::new();
    tls.read_to_string(&mut response).await?;
    Ok(response)
}

#[tokio::test]
async fn https_sends_hsts_and_puts_a_renewed_certificate_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let first = certificate();
    write(dir.path(), &first);
    let certificates =
        Certificates::open(&dir.path().join("cert.pem"), &dir.path().join("key.pem")).unwrap();
    let mut s = state().await;
    Arc::get_mut(&mut s).unwrap().https = true;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(crate::server::listen::serve(
        listener,
        crate::server::app(s),
        std::time::Duration::from_secs(10),
        Some(certificates.acceptor().unwrap()),
        crate::server::Drain::default(),
        std::future::pending(),
    ));

    let response = fetch(addr, &first.0, "/healthz").await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("strict-transport-security: max-age=31536000"),
        "{response}"
    );
    assert_eq!(certificates.check(), Reload::Unchanged);

    // Renewed: new connections get the new certificate.
    let second = certificate();
    write(dir.path(), &second);
    assert_eq!(certificates.check(), Reload::Reloaded);
    assert!(
        fetch(addr, &first.0, "/healthz").await.is_err(),
        "the old certificate is still served"
    );
    let response = fetch(addr, &second.0, "/healthz").await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    // Half renewed (the old key with the new certificate), then garbage:
    // the pair in use stays.
    let third = certificate();
    std::fs::write(dir.path().join("cert.pem"), &third.0).unwrap();
    assert_eq!(certificates.check(), Reload::Failed);
    std::fs::write(dir.path().join("key.pem"), "not a key").unwrap();
    assert_eq!(certificates.check(), Reload::Failed);
    let response = fetch(addr, &second.0, "/healthz").await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    std::fs::write(dir.path().join("key.pem"), &third.1).unwrap();
    assert_eq!(certificates.check(), Reload::Reloaded);
    assert!(fetch(addr, &third.0, "/healthz").await.is_ok());
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = certificate();
    let (_, key) = certificate();
    write(dir.path(), &(cert, key));
    let e =
        Certificates::open(&dir.path().join("cert.pem"), &dir.path().join("key.pem")).unwrap_err();
    assert!(format!("{e:#}").contains("not the certificate's"), "{e:#}");
    assert!(
        Certificates::open(&dir.path().join("absent.pem"), &dir.path().join("key.pem")).is_err()
    );
}

#[tokio::test]
async fn over_https_the_session_cookie_is_host_only_and_secure() {
    let mut s = state().await;
    Arc::get_mut(&mut s).unwrap().https = true;
    let (status, cookie, body) = send(
        &s,
        post(
            "/api/login",
            json!({"username": "nina", "password": "a long password"}),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookie = cookie.unwrap();
    assert!(cookie.starts_with("__Host-carechat_session="), "{cookie}");
    for attribute in ["; Secure", "; HttpOnly", "; Path=/", "SameSite=Strict"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Domain="), "{cookie}");
    let pair = cookie.split(';').next().unwrap();
    assert_eq!(send(&s, get("/api/me", Some(pair))).await.0, StatusCode::OK);
    // The same token under the plain name (planted over HTTP, or by a
    // sibling subdomain) is not a session here.
    let planted = pair.replacen("__Host-", "", 1);
    assert_eq!(
        send(&s, get("/api/me", Some(&planted))).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Logging out clears the same cookie.
    let res = crate::server::app(s.clone())
        .oneshot(
            axum::http::Request::post("/api/logout")
                .header(axum::http::header::COOKIE, pair)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let cleared = res.headers()[axum::http::header::SET_COOKIE]
        .to_str()
        .unwrap();
    assert!(
        cleared.starts_with("__Host-carechat_session=;") && cleared.contains("; Secure"),
        "{cleared}"
    );
}

#[tokio::test]
async fn plain_http_sends_no_hsts() {
    let s = state().await;
    let res = crate::server::app(s)
        .oneshot(get("/healthz", None))
        .await
        .unwrap();
    assert!(
        !res.headers()
            .contains_key(axum::http::header::STRICT_TRANSPORT_SECURITY)
    );
}
