//! Who a connecting patient's browser is, as the HTTP edge sees it: the
//! client's address (believing `X-Forwarded-For` only from a trusted
//! proxy) and the widget's browser id, both hashed under the server's
//! identity key before the conversation core or the store sees them
//! ([`service::Identity`]).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use service::Identity;

use super::{AppState, Shared};

/// The client's IP address: the TCP peer, or, when the peer is one of the
/// configured `trusted_proxies`, the nearest address in `X-Forwarded-For`
/// that is not itself a trusted proxy.
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<Shared> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(
            peer.map(|p| client_ip(p, &parts.headers, &s.trusted_proxies)),
        ))
    }
}

fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    // Right to left: each trusted proxy appended the address it saw.
    forwarded
        .into_iter()
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
}

/// The widget's browser id, if it is one: 16 to 64 characters of `[0-9A-Za-z_-]`.
fn browser_id(raw: Option<&str>) -> Option<&str> {
    raw.filter(|v| {
        (16..=64).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

impl AppState {
    /// The keyed hashes of a connecting browser.
    pub fn identity(&self, browser: Option<&str>, addr: Option<IpAddr>) -> Identity {
        Identity {
            fingerprint: browser_id(browser).map(|b| self.server_key.hash("browser", b)),
            address: addr.map(|a| self.server_key.hash("address", &a.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ip_believes_forwarded_for_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.2".parse().unwrap());
        // From an untrusted peer the header is the client's own claim.
        let peer: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(client_ip(peer, &headers, &[proxy]), peer);
        // From the proxy: the nearest untrusted hop.
        assert_eq!(
            client_ip(proxy, &headers, &[proxy]),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // A trusted proxy with no usable header is itself the client.
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }

    #[test]
    fn browser_ids_must_look_like_the_widgets() {
        assert_eq!(
            browser_id(Some("0123456789abcdef0123456789abcdef")),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(browser_id(Some("short")), None);
        assert_eq!(browser_id(Some("0123456789abcdef<script>")), None);
        assert_eq!(browser_id(Some(&"a".repeat(65))), None);
        assert_eq!(browser_id(None), None);
    }
}
