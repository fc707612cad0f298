//! TLS built in, with rustls: the certificate chain and private key are PEM
//! files (`--tls-cert`, `--tls-key`), read again every few seconds and put
//! in use for new connections when either has changed, so a renewed
//! certificate (certbot, a clinic's own CA) needs no restart. A pair that
//! does not load (half written, a key that is not the certificate's) is
//! reported and the one in use stays.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// The certificate in use, and the files' bytes it was made from.
struct Loaded {
    key: Arc<CertifiedKey>,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
}

/// Serves the current certificate to every handshake.
pub struct Certificates {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Loaded>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates")
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

/// What a look at the files found.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    Unchanged,
    Reloaded,
    /// The files changed but do not load; the old pair stays in use.
    Failed,
}

fn load(
    provider: &CryptoProvider,
    cert_pem: &[u8],
    key_pem: &[u8],
) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .context("the certificate file is not PEM")?;
    anyhow::ensure!(
        !chain.is_empty(),
        "the certificate file holds no certificate"
    );
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).context("the key file holds no private key")?;
    let key = CertifiedKey::from_der(chain, key, provider)
        .context("the key does not load, or is not the certificate's")?;
    Ok(Arc::new(key))
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

impl Certificates {
    /// Loads the pair, or says why it cannot.
    pub fn open(cert_path: &Path, key_path: &Path) -> anyhow::Result<Arc<Certificates>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (cert_pem, key_pem) = (read(cert_path)?, read(key_path)?);
        let key = load(&provider, &cert_pem, &key_pem)
            .with_context(|| format!("TLS from {}", cert_path.display()))?;
        Ok(Arc::new(Certificates {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            provider,
            current: RwLock::new(Loaded {
                key,
                cert_pem,
                key_pem,
            }),
        }))
    }

    /// Reads the files again and puts a changed pair in use.
    pub fn check(&self) -> Reload {
        let (Ok(cert_pem), Ok(key_pem)) = (read(&self.cert_path), read(&self.key_path)) else {
            tracing::warn!(cert = %self.cert_path.display(), "the TLS files cannot be read; the certificate in use stays");
            return Reload::Failed;
        };
        {
            let current = self.current.read().expect("not poisoned");
            if current.cert_pem == cert_pem && current.key_pem == key_pem {
                return Reload::Unchanged;
            }
        }
        match load(&self.provider, &cert_pem, &key_pem) {
            Ok(key) => {
                *self.current.write().expect("not poisoned") = Loaded {
                    key,
                    cert_pem,
                    key_pem,
                };
                tracing::info!(cert = %self.cert_path.display(), "TLS certificate reloaded");
                Reload::Reloaded
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "the changed TLS files do not load; the certificate in use stays");
                Reload::Failed
            }
        }
    }

    /// Looks at the files every `every`, for ever.
    pub async fn watch(self: Arc<Self>, every: Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let this = self.clone();
            // File reads off the runtime's threads.
            let _ = tokio::task::spawn_blocking(move || this.check()).await;
        }
    }

    /// The acceptor for the listener: TLS 1.2 and 1.3, HTTP/1.1.
    pub fn acceptor(self: &Arc<Self>) -> anyhow::Result<TlsAcceptor> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().expect("not poisoned").key.clone())
    }
}
