//! Syslog listeners: UDP (one datagram, one message) and TCP (RFC 6587 octet counting or one
//! message per line), RFC 3164 and RFC 5424 parsed by `syslog_loose`. Each message becomes an
//! event with its host, severity, facility, tag, message and source address.
//!
//! A flood is bounded: UDP messages go into the event queue only if it has room, else they are
//! dropped and counted (`syslog.dropped`); a TCP sender is slowed down instead (its connection
//! is read only as fast as the queue drains). Frames are at most [`MAX_MESSAGE`] bytes (longer
//! ones are cut and counted), connections at most [`MAX_CONNECTIONS`], idle ones closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use syslog_loose::{Message, Variant};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, mpsc, watch};

use super::intake::Incoming;
use super::{Core, ServeError, now};
use crate::store::NewEvent;

/// Longest message kept (a UDP datagram cannot be longer; a TCP frame is cut here).
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Most TCP connections at once; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 256;
/// A TCP connection silent this long is closed.
const IDLE: Duration = Duration::from_secs(300);

pub async fn bind_udp(addr: SocketAddr) -> Result<UdpSocket, ServeError> {
    UdpSocket::bind(addr)
        .await
        .map_err(|error| ServeError::Bind {
            what: "syslog UDP",
            addr,
            error,
        })
}

pub async fn bind_tcp(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| ServeError::Bind {
            what: "syslog TCP",
            addr,
            error,
        })
}

/// The payload of one syslog message received from `source` over `transport`.
pub fn payload(raw: &str, source: SocketAddr, transport: &str) -> Value {
    let text = raw.trim_end_matches(['\n', '\r', '\0']);
    let message: Message<&str> = syslog_loose::parse_message(text, Variant::Either);
    let format = match message.protocol {
        syslog_loose::Protocol::RFC3164 => "rfc3164",
        syslog_loose::Protocol::RFC5424(_) => "rfc5424",
    };
    let structured: serde_json::Map<String, Value> = message
        .structured_data
        .iter()
        .map(|e| {
            let params: serde_json::Map<String, Value> = e
                .params()
                .map(|(k, v)| ((*k).to_owned(), Value::String(v.to_string())))
                .collect();
            (e.id.to_owned(), Value::Object(params))
        })
        .collect();
    json!({
        "host": message.hostname,
        "severity": message.severity.map(|s| s as u8),
        "severity_name": message.severity.map(|s| s.as_str()),
        "facility": message.facility.map(|f| f as u8),
        "facility_name": message.facility.map(|f| f.as_str()),
        "tag": message.appname,
        "procid": message.procid.map(|p| p.to_string()),
        "msgid": message.msgid,
        "timestamp": message.timestamp.map(|t| t.to_rfc3339()),
        "message": message.msg,
        "structured_data": structured,
        "format": format,
        "source_address": source.ip().to_canonical().to_string(),
        "source_port": source.port(),
        "transport": transport,
    })
}

fn event(raw: &str, source: SocketAddr, transport: &str) -> NewEvent {
    NewEvent {
        kind: "syslog".into(),
        name: transport.into(),
        received_at: now(),
        payload: payload(raw, source, transport).to_string(),
        dedup_key: None,
        mark: None,
    }
}

pub async fn serve_udp(core: Arc<Core>, socket: UdpSocket, mut stop: watch::Receiver<bool>) {
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let received = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            r = socket.recv_from(&mut buf) => r,
        };
        let (n, source) = match received {
            Ok(r) => r,
            Err(err) => {
                tracing::debug!("syslog UDP receive: {err}");
                continue;
            }
        };
        core.counters.count("syslog.received");
        if n == 0 {
            core.counters.count("syslog.empty");
            continue;
        }
        let raw = String::from_utf8_lossy(&buf[..n]);
        let incoming = Incoming {
            event: event(&raw, source, "udp"),
            ack: None,
        };
        match core.queue.try_send(incoming) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => core.counters.count("syslog.dropped"),
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

pub async fn serve_tcp(core: Arc<Core>, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            a = listener.accept() => a,
        };
        let (stream, source) = match accepted {
            Ok(a) => a,
            Err(err) => {
                tracing::debug!("syslog TCP accept: {err}");
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        let core = Arc::clone(&core);
        let stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            connection(&core, stream, source, stop).await;
        });
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

async fn connection(
    core: &Core,
    stream: TcpStream,
    source: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let mut reader = BufReader::new(stream);
    loop {
        let frame = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            f = tokio::time::timeout(IDLE, read_frame(&mut reader)) => f,
        };
        let frame = match frame {
            Err(_) | Ok(Ok(None)) => return,
            Ok(Err(err)) => {
                tracing::debug!(%source, "syslog TCP: {err}");
                return;
            }
            Ok(Ok(Some(frame))) => frame,
        };
        core.counters.count("syslog.received");
        if frame.cut {
            core.counters.count("syslog.oversized");
        }
        let raw = String::from_utf8_lossy(&frame.bytes);
        if raw.trim().is_empty() {
            continue;
        }
        let incoming = Incoming {
            event: event(&raw, source, "tcp"),
            ack: None,
        };
        // Backpressure: a TCP sender waits for room instead of losing messages.
        if core.queue.send(incoming).await.is_err() {
            return;
        }
    }
}

/// One frame of a TCP syslog stream.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    /// Its bytes (at most [`MAX_MESSAGE`]).
    pub bytes: Vec<u8>,
    /// Longer than [`MAX_MESSAGE`]: the rest was read and discarded.
    pub cut: bool,
}

/// Reads one frame: `LEN SP MSG` (octet counting, RFC 6587) when the stream starts with
/// digits and a space, else one line. `None` at the end of the stream. Bytes may arrive in any
/// pieces (a sender's `LEN` and its space can come in separate segments).
pub async fn read_frame<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
) -> std::io::Result<Option<Frame>> {
    // Up to 9 leading digits decide the framing once the byte after them is seen.
    let mut head = Vec::new();
    loop {
        let buffered = reader.fill_buf().await?;
        let Some(&b) = buffered.first() else {
            if head.is_empty() {
                return Ok(None);
            }
            return Ok(Some(Frame {
                bytes: head,
                cut: false,
            }));
        };
        if b.is_ascii_digit() && head.len() < 9 {
            head.push(b);
            reader.consume(1);
            continue;
        }
        if b == b' ' && !head.is_empty() {
            reader.consume(1);
            let len: usize = std::str::from_utf8(&head)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let keep = len.min(MAX_MESSAGE);
            let mut bytes = vec![0u8; keep];
            reader.read_exact(&mut bytes).await?;
            let mut rest = (len - keep) as u64;
            while rest > 0 {
                let skipped =
                    tokio::io::copy(&mut (&mut *reader).take(rest), &mut tokio::io::sink()).await?;
                if skipped == 0 {
                    break;
                }
                rest -= skipped;
            }
            return Ok(Some(Frame {
                bytes,
                cut: len > MAX_MESSAGE,
            }));
        }
        break;
    }
    // A line; the digits read so far are its start.
    let mut bytes = head;
    let mut cut = false;
    loop {
        let buffered = reader.fill_buf().await?;
        if buffered.is_empty() {
            break;
        }
        let (chunk, done) = match buffered.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buffered.len(), false),
        };
        let room = MAX_MESSAGE.saturating_sub(bytes.len());
        if chunk > room {
            cut = true;
        }
        bytes.extend_from_slice(&buffered[..chunk.min(room)]);
        reader.consume(chunk);
        if done {
            break;
        }
    }
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    Ok(Some(Frame { bytes, cut }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> SocketAddr {
        "192.0.2.10:51514".parse().unwrap()
    }

    #[test]
    fn a_cisco_config_change_parses_into_its_fields() {
        let p = payload(
            "<189>Mar  1 00:12:44 R1 34: *Mar  1 00:12:44.123: %SYS-5-CONFIG_I: Configured from console by admin on vty0 (10.0.0.5)",
            source(),
            "udp",
        );
        assert_eq!(p["severity"], 5);
        assert_eq!(p["severity_name"], "notice");
        assert_eq!(p["facility"], 23);
        assert_eq!(p["host"], "R1");
        assert_eq!(p["source_address"], "192.0.2.10");
        assert_eq!(p["format"], "rfc3164");
        let message = p["message"].as_str().expect("message");
        assert!(
            message.contains("%SYS-5-CONFIG_I: Configured from console"),
            "{p:#}"
        );
    }

    #[test]
    fn an_rfc5424_message_parses_with_its_structured_data() {
        let p = payload(
            "<165>1 2026-12-01T10:00:00.000Z sw1.lab app 811 ID47 [exampleSDID@32473 iut=\"3\"] link down on eth1",
            "[::ffff:192.0.2.11]:514".parse().unwrap(),
            "tcp",
        );
        assert_eq!(p["format"], "rfc5424");
        assert_eq!(p["host"], "sw1.lab");
        assert_eq!(p["tag"], "app");
        assert_eq!(p["procid"], "811");
        assert_eq!(p["msgid"], "ID47");
        assert_eq!(p["severity"], 5);
        assert_eq!(p["facility"], 20);
        assert_eq!(p["structured_data"]["exampleSDID@32473"]["iut"], "3");
        assert_eq!(p["message"], "link down on eth1");
        assert_eq!(
            p["source_address"], "192.0.2.11",
            "mapped IPv4 is shown as IPv4"
        );
    }

    #[test]
    fn garbage_is_kept_as_the_message() {
        let p = payload("not syslog at all \u{1b}[2J", source(), "udp");
        assert!(
            p["message"]
                .as_str()
                .expect("message")
                .contains("not syslog")
        );
        assert_eq!(p["severity"], Value::Null);
    }

    #[tokio::test]
    async fn an_octet_count_split_across_segments_still_frames() {
        // The sender's "11", " " and message arrive as three reads.
        let stream = tokio_test_stream(&[b"11", b" ", b"<13>hello a", b"42\n"]);
        let mut reader = BufReader::new(stream);
        let f = read_frame(&mut reader).await.unwrap().unwrap();
        assert_eq!(f.bytes, b"<13>hello a");
        let f = read_frame(&mut reader).await.unwrap().unwrap();
        assert_eq!(f.bytes, b"42", "digits then a newline are a line");
        assert_eq!(read_frame(&mut reader).await.unwrap(), None);
    }

    /// A reader that returns `pieces` one read at a time.
    fn tokio_test_stream(pieces: &[&[u8]]) -> impl tokio::io::AsyncRead + Unpin {
        struct Pieces(std::collections::VecDeque<Vec<u8>>);
        impl tokio::io::AsyncRead for Pieces {
            fn poll_read(
                mut self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                if let Some(p) = self.0.pop_front() {
                    buf.put_slice(&p);
                }
                std::task::Poll::Ready(Ok(()))
            }
        }
        Pieces(pieces.iter().map(|p| p.to_vec()).collect())
    }

    #[tokio::test]
    async fn tcp_frames_by_octet_count_or_line_and_cut_oversized_ones() {
        let long = "x".repeat(MAX_MESSAGE + 10);
        let stream = format!(
            "11 <13>hello a<13>line two\r\n{} {long}<13>after\n",
            long.len()
        );
        let mut reader = BufReader::new(stream.as_bytes());
        let f = read_frame(&mut reader).await.unwrap().unwrap();
        assert_eq!(f.bytes, b"<13>hello a");
        let f = read_frame(&mut reader).await.unwrap().unwrap();
        assert_eq!(f.bytes, b"<13>line two");
        let f = read_frame(&mut reader).await.unwrap().unwrap();
        assert_eq!(f.bytes.len(), MAX_MESSAGE);
        assert!(f.cut);
        let f = read_frame(&mut reader).await.unwrap().unwrap();
        assert_eq!(f.bytes, b"<13>after");
        assert_eq!(read_frame(&mut reader).await.unwrap(), None);
        let endless = "y".repeat(3 * MAX_MESSAGE);
        let mut reader = BufReader::new(endless.as_bytes());
        let f = read_frame(&mut reader).await.unwrap().unwrap();
        assert!(f.cut && f.bytes.len() == MAX_MESSAGE);
    }
}
