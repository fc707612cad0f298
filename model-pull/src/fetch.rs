//! Downloads over HTTPS with a progress bar, and the SHA-256 every
//! download is checked against: shared by the wheel pull ([`crate::pull`])
//! and the translation-model hub ([`crate::hub`]).

use std::io::Read;

use anyhow::Context;
use sha2::{Digest, Sha256};

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn progress_bar(len: Option<u64>, what: &str) -> indicatif::ProgressBar {
    let bar = match len {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .expect("progress template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// An HTTP agent that trusts the platform's certificate store, not a
/// bundled one: clinics (and this project's build machines) often sit
/// behind a TLS-inspecting proxy whose CA only the system knows.
/// `follow_redirects` false hands 3xx and 4xx responses back to the caller.
pub(crate) fn agent(follow_redirects: bool) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    let mut config = ureq::Agent::config_builder().tls_config(tls);
    if !follow_redirects {
        config = config.max_redirects(0).http_status_as_error(false);
    }
    config.build().into()
}

pub(crate) fn download(url: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    let response = agent(true)
        .get(url)
        .call()
        .with_context(|| format!("downloading {url}"))?;
    read_body(response, url, what)
}

pub(crate) fn read_body(
    response: ureq::http::Response<ureq::Body>,
    url: &str,
    what: &str,
) -> anyhow::Result<Vec<u8>> {
    let len = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let bar = progress_bar(len, what);
    let mut reader = response
        .into_body()
        .into_with_config()
        .limit(2 << 30)
        .reader();
    let mut out = Vec::with_capacity(len.unwrap_or(0) as usize);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader
            .read(&mut buf)
            .with_context(|| format!("downloading {url}"))?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok(out)
}
