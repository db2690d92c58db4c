//! [`Conn`]: the TCP connection as the HTTP/1 dispatcher sees it, with the three things actix-http
//! cannot be told to do, and [`ConnHandle`], through which the request middleware
//! ([`crate::limits`]) talks to it.
//!
//! actix-http parses request heads in its codec, before any middleware runs, and answers what it
//! refuses there (more than 96 header fields or a head beyond its 128 KiB buffer: 431; a malformed
//! head: 400; the first head not received in time: 408) with an empty body. It serves requests
//! pipelined behind one whose response says `Connection: close`, and it bounds only the first
//! request head of a connection in time. Forking actix-http to change that would be the larger
//! change; wrapping the socket is enough:
//!
//! - **Codec refusals get the JSON body of every other refusal.** Such a refusal is always the last
//!   response the dispatcher writes before it drops the connection, so it is the tail of the last
//!   buffer it writes, and it is the only response with one of those statuses and
//!   `content-length: 0` (the application answers every refusal with a JSON body). [`Conn`] checks
//!   whether a written buffer ends with `\r\n\r\n` (four byte compares: a JSON body ends with `}`)
//!   and only then parses the last head; a match is written as the same status with the JSON body
//!   instead. The hot path pays the four compares.
//! - **Close after a refusal means close.** When the middleware refuses a request whose framing
//!   is ambiguous (RFC 9112 §6.1), the refusal's body marks the connection as it is written and
//!   never ends, so the dispatcher cannot move on to a request pipelined behind it; the next flush,
//!   which carries the whole refusal, then fails, and the dispatcher drops the connection.
//! - **Every request head is bounded in time.** A request that reaches the application marks
//!   the connection busy until its response body is gone. Bytes that arrive while it is not busy
//!   start the next head, which must reach the application within `header_read_timeout`; else
//!   [`Conn`] writes a 408 itself (nothing else is being written then) and ends the connection.
//!   The timer is re-armed once per request on a kept-alive connection, as actix-http's own
//!   keep-alive timer is.

use std::cell::Cell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::rt::net::TcpStream;
use actix_web::rt::time::{Instant, Sleep, sleep_until};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most header fields actix-http's parser accepts in one request head.
pub const MAX_HEADER_FIELDS: usize = 96;
/// The largest request head actix-http buffers, bytes.
pub const MAX_HEAD_BUFFER: usize = 131_072;

/// What a connection needs to know about the configured limits.
#[derive(Debug, Clone, Copy)]
pub struct WireLimits {
    /// How long a request head may take to arrive, from its first byte (from the connection's
    /// start for the first request).
    pub header_read_timeout: Duration,
}

/// State shared by a connection and the requests served on it (single-threaded: the dispatcher
/// and its requests run on one worker thread).
#[derive(Debug, Default)]
struct Shared {
    /// Requests that reached the application.
    started: Cell<u64>,
    /// Requests whose response body is gone (written, or dropped).
    finished: Cell<u64>,
    /// A refusal that closes the connection has been handed to the dispatcher whole.
    close: Cell<bool>,
}

/// The middleware's view of its connection, found in the request's connection data.
#[derive(Debug, Clone)]
pub struct ConnHandle(Rc<Shared>);

impl ConnHandle {
    /// A request reached the application; call [`RequestGuard`]'s drop when its response body
    /// is gone.
    pub fn request_started(&self) -> RequestGuard {
        self.0.started.set(self.0.started.get().wrapping_add(1));
        RequestGuard(self.0.clone())
    }

    /// The response being written is the last one: the connection ends once it is flushed.
    pub fn close_after_flush(&self) {
        self.0.close.set(true);
    }
}

/// Marks its request finished when dropped (held by the response body).
#[derive(Debug)]
pub struct RequestGuard(Rc<Shared>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.finished.set(self.0.finished.get().wrapping_add(1));
    }
}

/// A TCP connection served by the HTTP/1 dispatcher (see the module documentation).
pub struct Conn {
    /// The socket.
    io: TcpStream,
    /// Shared with the requests through [`ConnHandle`].
    shared: Rc<Shared>,
    /// The configured limits.
    limits: WireLimits,
    /// The head deadline; reset, not reallocated, per request.
    deadline: Pin<Box<Sleep>>,
    /// Whether `deadline` bounds a head now (else it may fire and is ignored).
    armed: bool,
    /// `started` when the deadline was armed: a request started since means that head arrived.
    armed_at: u64,
    /// Bytes handed to `poll_write` that have not been flushed (a 408 of our own must not be
    /// interleaved with them).
    unflushed: bool,
    /// A rewritten codec refusal being written, and how much of it is out.
    replacement: Option<(Vec<u8>, usize)>,
}

// === impl Conn ===

impl Conn {
    /// Wraps an accepted socket; the first head's deadline starts now.
    pub fn new(io: TcpStream, limits: WireLimits) -> Self {
        Self {
            io,
            shared: Rc::default(),
            limits,
            deadline: Box::pin(sleep_until(Instant::now() + limits.header_read_timeout)),
            armed: true,
            armed_at: 0,
            unflushed: false,
            replacement: None,
        }
    }

    /// The handle the middleware finds in the connection data.
    pub fn handle(&self) -> ConnHandle {
        ConnHandle(self.shared.clone())
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.io.peer_addr().ok()
    }

    /// Tracks the head deadline around a read that returned `got` bytes (`pending`: none yet);
    /// `Err` when a head took too long.
    fn watch_head(&mut self, cx: &mut Context<'_>, got: bool, pending: bool) -> io::Result<()> {
        let (started, finished) = (self.shared.started.get(), self.shared.finished.get());
        if started != finished || (self.armed && started != self.armed_at) {
            // A request is in the application, or the head the deadline bounded has arrived.
            self.armed = false;
        }
        if started == finished && got && !self.armed {
            self.armed = true;
            self.armed_at = started;
            let at = Instant::now() + self.limits.header_read_timeout;
            self.deadline.as_mut().reset(at);
        }
        if self.armed && pending && self.deadline.as_mut().poll(cx).is_ready() {
            if !self.unflushed {
                let text = refusal(
                    408,
                    "Request Timeout",
                    &format!(
                        "the request head was not received within {} ms \
                         (server.header_read_timeout_ms)",
                        self.limits.header_read_timeout.as_millis()
                    ),
                    &httpdate(),
                );
                // Best effort: the socket has nothing else queued, and 200 bytes fit.
                let _ = self.io.try_write(&text);
            }
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "request head timed out",
            ));
        }
        Ok(())
    }

    /// Writes what is left of a replacement; `Ready` when all of it is out.
    fn drain_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = self.replacement.as_mut() {
            if *written == bytes.len() {
                return Poll::Ready(Ok(()));
            }
            let n = std::task::ready!(Pin::new(&mut self.io).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.io).poll_read(cx, buf);
        let got = buf.filled().len() > before;
        this.watch_head(cx, got, result.is_pending())?;
        result
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.unflushed = true;
        if this.replacement.is_some() {
            // `buf` starts with the codec refusal being replaced; nothing follows it.
            std::task::ready!(this.drain_replacement(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        match codec_refusal(buf) {
            None => Pin::new(&mut this.io).poll_write(cx, buf),
            // Write what precedes the refusal first; it comes back as the start of `buf`.
            Some((start, _)) if start > 0 => Pin::new(&mut this.io).poll_write(cx, &buf[..start]),
            Some((_, replacement)) => {
                this.replacement = Some((replacement, 0));
                std::task::ready!(this.drain_replacement(cx))?;
                Poll::Ready(Ok(buf.len()))
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.drain_replacement(cx))?;
        std::task::ready!(Pin::new(&mut this.io).poll_flush(cx))?;
        this.unflushed = false;
        if this.shared.close.get() {
            // The refusal is out; failing here makes the dispatcher drop the connection before
            // it reads or answers anything else.
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed after a refused request",
            )));
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.drain_replacement(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// If `buf` ends with a response head actix-http's codec made for a request it refused (status
/// 400, 408 or 431, `content-length: 0`), where that head starts and the response to write
/// instead.
fn codec_refusal(buf: &[u8]) -> Option<(usize, Vec<u8>)> {
    if !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    // Such a head is about 120 bytes: status line, content-length, connection, date.
    let window = buf.len().saturating_sub(256);
    let start = window + buf[window..].windows(7).rposition(|w| w == b"HTTP/1.")?;
    let head = std::str::from_utf8(&buf[start..buf.len() - 4]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.get(9..12)?.parse().ok()?;
    let (reason, description) = match status {
        400 => (
            "Bad Request",
            "the request head is malformed: its request line or a header field does not follow \
             HTTP/1.1 (RFC 9112), or its framing is ambiguous"
                .to_owned(),
        ),
        408 => (
            "Request Timeout",
            "the request head was not received in time (server.header_read_timeout_ms)".to_owned(),
        ),
        431 => (
            "Request Header Fields Too Large",
            format!(
                "the request head has more than {MAX_HEADER_FIELDS} header fields or exceeds \
                 {MAX_HEAD_BUFFER} bytes"
            ),
        ),
        _ => return None,
    };
    let mut date = None;
    let mut empty = false;
    for line in lines {
        match line.split_once(": ") {
            Some(("content-length", "0")) => empty = true,
            Some(("connection", "close" | "keep-alive")) => {}
            Some(("date", value)) => date = Some(value),
            _ => return None,
        }
    }
    if !empty || status_line.get(12..)? != format!(" {reason}") {
        return None;
    }
    Some((start, refusal(status, reason, &description, date?)))
}

/// A complete JSON refusal that closes the connection.
fn refusal(status: u16, reason: &str, description: &str, date: &str) -> Vec<u8> {
    let body = serde_json::json!({
        "error": "invalid_request",
        "error_description": description,
    })
    .to_string();
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\ndate: {date}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn httpdate() -> String {
    actix_web::http::header::HttpDate::from(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "Mon, 07 Dec 2026 23:36:57 GMT";

    #[test]
    fn codec_refusals_are_found_at_the_end_of_a_buffer() {
        let refused = format!(
            "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\
             connection: close\r\ndate: {DATE}\r\n\r\n"
        );
        let before = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ndate: x\r\n\r\nok";
        let buf = format!("{before}{refused}");
        let (start, replacement) = codec_refusal(buf.as_bytes()).expect("found");
        assert_eq!(start, before.len());
        let text = String::from_utf8(replacement).expect("utf-8");
        assert!(text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(text.contains(&format!("date: {DATE}\r\n")), "{text}");
        assert!(text.ends_with("bytes\"}"), "{text}");
        let bad = format!("HTTP/1.0 400 Bad Request\r\ncontent-length: 0\r\ndate: {DATE}\r\n\r\n");
        assert!(codec_refusal(bad.as_bytes()).is_some());
    }

    #[test]
    fn other_responses_pass_untouched() {
        for text in [
            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\ndate: x\r\n\r\n".to_owned(),
            "HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n".to_owned(),
            format!("HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\ndate: {DATE}\r\n\r\n{{}}"),
            format!(
                "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\
                 content-type: text/plain\r\ndate: {DATE}\r\n\r\n"
            ),
        ] {
            assert!(codec_refusal(text.as_bytes()).is_none(), "{text}");
        }
    }
}
