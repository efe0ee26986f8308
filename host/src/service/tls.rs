//! TLS for the HTTP side of `orch serve` (`--tls-cert`/`--tls-key`): the certificate chain and
//! private key read from PEM files (each problem named with its file and the fix), and a
//! listener for `axum::serve` whose handshakes run concurrently, each bounded in time, so a slow
//! or silent client never holds up anyone else's connection.
//!
//! rustls with the aws-lc-rs provider (the one reqwest already brings); TLS 1.2 and 1.3,
//! rustls's safe defaults; ALPN `http/1.1` (the server speaks HTTP/1.1 only).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::server::TlsStream;

/// How long a client gets to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at most; connections beyond wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 256;

/// Why the certificate or key cannot be used; each names the file and what to give instead.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("cannot read the TLS {what} {}: {error}", path.display())]
    Read {
        /// Certificate or key.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A file has no usable PEM object.
    #[error("{} holds no {what}: {expected}", path.display())]
    Empty {
        /// Certificate or key.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What a usable file looks like.
        expected: &'static str,
    },
    /// rustls refuses the pair (e.g. the key does not match the certificate).
    #[error("the TLS certificate {} and key {} cannot be used together: {error}", cert.display(), key.display())]
    Refused {
        /// Certificate file.
        cert: PathBuf,
        /// Key file.
        key: PathBuf,
        /// rustls's reason.
        error: String,
    },
}

/// Reads `cert` (the chain, leaf first) and `key` and builds the server's TLS settings.
pub fn load(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let read = |what, path: &Path| {
        std::fs::read(path).map_err(|error| TlsError::Read {
            what,
            path: path.to_owned(),
            error,
        })
    };
    let cert_pem = read("certificate", cert)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::Empty {
            what: "certificate",
            path: cert.to_owned(),
            expected: "give a PEM file with the server's certificate (-----BEGIN CERTIFICATE-----) first, then its intermediates",
        });
    }
    let key_pem = read("private key", key)?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::Empty {
        what: "private key",
        path: key.to_owned(),
        expected: "give the certificate's private key as PEM (PKCS#8 -----BEGIN PRIVATE KEY-----, PKCS#1 RSA or SEC1 EC), not encrypted",
    })?;
    warn_if_readable_by_others(key);
    let refused = |error: String| TlsError::Refused {
        cert: cert.to_owned(),
        key: key.to_owned(),
        error,
    };
    let mut config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| refused(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| refused(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(unix)]
fn warn_if_readable_by_others(key: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(key)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            "the TLS private key {} can be read by other users (mode {:o}); chmod 600 it",
            key.display(),
            meta.permissions().mode() & 0o777
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

/// A TCP listener whose connections come out with their TLS handshake done.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor: JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `tcp`: each connection's handshake runs in its own task.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), tx));
        Ok(Self {
            ready,
            local,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // The server stopped: stop taking connections (axum drops the listener then).
        self.acceptor.abort();
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let (stream, peer) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: wait rather than spin (as axum does).
                tracing::warn!("accepting a connection: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = ready.send((tls, peer)).await;
                }
                Ok(Err(err)) => tracing::debug!(%peer, "TLS handshake failed: {err}"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop only ends when aborted, which drops this listener first.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        (dir, cert, key)
    }

    #[test]
    fn a_certificate_and_its_key_load() {
        let (_dir, cert, key) = pair();
        let config = load(&cert, &key).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn each_bad_file_is_named_with_the_fix() {
        let (dir, cert, key) = pair();
        let missing = dir.path().join("nope.pem");
        let err = load(&missing, &key).unwrap_err().to_string();
        assert!(
            err.contains("cannot read the TLS certificate") && err.contains("nope.pem"),
            "{err}"
        );

        // Key and certificate swapped.
        let err = load(&key, &cert).unwrap_err().to_string();
        assert!(
            err.contains("key.pem holds no certificate") && err.contains("BEGIN CERTIFICATE"),
            "{err}"
        );

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not pem").unwrap();
        let err = load(&cert, &garbage).unwrap_err().to_string();
        assert!(
            err.contains("garbage.pem holds no private key") && err.contains("PKCS#8"),
            "{err}"
        );

        // Another certificate's key.
        let (_other, _, other_key) = pair();
        let err = load(&cert, &other_key).unwrap_err().to_string();
        assert!(err.contains("cannot be used together"), "{err}");
    }
}
