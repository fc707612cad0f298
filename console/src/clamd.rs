//! The clinic's virus scanner: ClamAV's daemon, `clamd`, asked over its
//! socket with the `INSTREAM` command (a Unix socket, Debian's
//! `/var/run/clamav/clamd.ctl` by default, or `tcp://host:port`).
//!
//! The protocol (clamd(8)): `zINSTREAM\0`, then the file in chunks, each
//! a 4-byte big-endian length and the bytes, then a zero length; clamd
//! answers `stream: OK\0`, `stream: <signature> FOUND\0`, or
//! `... ERROR\0` (a file over its `StreamMaxLength`, say). The file never
//! touches the disk on this side.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use service::files::{Scanner, Verdict};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Chunks sent to clamd (its default `StreamMaxLength` is 25 MB in all).
const CHUNK: usize = 64 * 1024;
/// The longest a scan may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The longest answer read.
const MAX_REPLY: usize = 4096;

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clamd {
    Unix(PathBuf),
    Tcp(String),
}

impl Clamd {
    /// `tcp://host:port`, or a Unix socket's path (`unix:` optional).
    pub fn parse(address: &str) -> anyhow::Result<Clamd> {
        let address = address.trim();
        if let Some(hostport) = address.strip_prefix("tcp://") {
            anyhow::ensure!(
                hostport
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()),
                "files.clamd: tcp://host:port, got {address:?}"
            );
            return Ok(Clamd::Tcp(hostport.to_string()));
        }
        let path = address.strip_prefix("unix:").unwrap_or(address);
        anyhow::ensure!(
            path.starts_with('/'),
            "files.clamd: a socket's absolute path or tcp://host:port, got {address:?}"
        );
        Ok(Clamd::Unix(path.into()))
    }

    /// Whether clamd answers `PING` (the server says so at start).
    pub async fn ping(&self) -> Result<(), String> {
        match self.call(Command::Ping).await?.as_str() {
            "PONG" => Ok(()),
            reply => Err(format!("clamd answered PING with {reply:?}")),
        }
    }

    /// Connects, sends `command`, and reads the answer, within [`TIMEOUT`].
    async fn call(&self, command: Command<'_>) -> Result<String, String> {
        let work = async {
            match self {
                Clamd::Unix(path) => {
                    let mut s = tokio::net::UnixStream::connect(path)
                        .await
                        .map_err(|e| format!("clamd at {}: {e}", path.display()))?;
                    converse(&mut s, command).await
                }
                Clamd::Tcp(addr) => {
                    let mut s = tokio::net::TcpStream::connect(addr)
                        .await
                        .map_err(|e| format!("clamd at {addr}: {e}"))?;
                    converse(&mut s, command).await
                }
            }
        };
        tokio::time::timeout(TIMEOUT, work)
            .await
            .map_err(|_| "clamd did not answer in time".to_string())?
    }
}

/// What is asked of clamd.
enum Command<'a> {
    Ping,
    Instream(&'a [u8]),
}

/// Sends `command`, then reads clamd's answer up to its NUL.
async fn converse<S>(stream: &mut S, command: Command<'_>) -> Result<String, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match command {
        Command::Ping => stream.write_all(b"zPING\0").await,
        Command::Instream(bytes) => instream(stream, bytes).await,
    }
    .map_err(|e| format!("writing to clamd: {e}"))?;
    stream
        .flush()
        .await
        .map_err(|e| format!("writing to clamd: {e}"))?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 512];
    while !reply.contains(&0) && reply.len() <= MAX_REPLY {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("reading clamd's answer: {e}"))?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
    }
    let end = reply.iter().position(|&b| b == 0).unwrap_or(reply.len());
    Ok(String::from_utf8_lossy(&reply[..end]).trim().to_string())
}

/// The `INSTREAM` command and the file, as clamd reads them.
async fn instream<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(b"zINSTREAM\0").await?;
    for chunk in bytes.chunks(CHUNK) {
        stream
            .write_all(&(chunk.len() as u32).to_be_bytes())
            .await?;
        stream.write_all(chunk).await?;
    }
    stream.write_all(&0u32.to_be_bytes()).await
}

/// clamd's answer to `INSTREAM`.
fn verdict(reply: &str) -> Result<Verdict, String> {
    let body = reply.strip_prefix("stream:").unwrap_or(reply).trim();
    if body == "OK" {
        Ok(Verdict::Clean)
    } else if let Some(signature) = body.strip_suffix(" FOUND") {
        Ok(Verdict::Infected(signature.trim().to_string()))
    } else {
        // "INSTREAM size limit exceeded. ERROR", and the like.
        Err(format!("clamd could not scan the file: {body}"))
    }
}

#[async_trait]
impl Scanner for Clamd {
    async fn scan(&self, bytes: &[u8]) -> Result<Verdict, String> {
        verdict(&self.call(Command::Instream(bytes)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_a_socket_path_or_tcp() {
        assert_eq!(
            Clamd::parse("/var/run/clamav/clamd.ctl").unwrap(),
            Clamd::Unix("/var/run/clamav/clamd.ctl".into())
        );
        assert_eq!(
            Clamd::parse("unix:/tmp/c.sock").unwrap(),
            Clamd::Unix("/tmp/c.sock".into())
        );
        assert_eq!(
            Clamd::parse("tcp://127.0.0.1:3310").unwrap(),
            Clamd::Tcp("127.0.0.1:3310".into())
        );
        for bad in [
            "clamd.ctl",
            "tcp://127.0.0.1",
            "tcp://:3310",
            "tcp://h:99999",
        ] {
            assert!(Clamd::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn answers_are_read_as_clamd_writes_them() {
        assert_eq!(verdict("stream: OK"), Ok(Verdict::Clean));
        assert_eq!(
            verdict("stream: Eicar-Test-Signature FOUND"),
            Ok(Verdict::Infected("Eicar-Test-Signature".into()))
        );
        assert!(verdict("INSTREAM size limit exceeded. ERROR").is_err());
        assert!(verdict("").is_err());
    }

    /// The bytes a scanner is sent: the command, length-prefixed chunks,
    /// and the zero length that ends them.
    #[tokio::test]
    async fn a_file_is_streamed_in_length_prefixed_chunks() {
        let file: Vec<u8> = (0..CHUNK + 10).map(|i| i as u8).collect();
        let mut sent = Vec::new();
        instream(&mut sent, &file).await.unwrap();
        let rest = sent.strip_prefix(b"zINSTREAM\0").unwrap();
        let first = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        assert_eq!(first, CHUNK);
        let rest = &rest[4 + first..];
        let second = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        assert_eq!(second, 10);
        assert_eq!(&rest[4 + second..], &[0, 0, 0, 0]);
    }
}
