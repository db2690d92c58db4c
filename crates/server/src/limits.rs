//! Request limits enforced before any handler runs: [`guard`], the innermost middleware.
//!
//! - **Framing** (RFC 9112 §6.1, §6.3): a request with both `Content-Length` and
//!   `Transfer-Encoding`, with `Transfer-Encoding` in HTTP/1.0, or with a transfer coding other
//!   than `chunked`, may be read differently by a proxy in front of us (request smuggling). It is
//!   answered 400 and the connection is closed right after, before anything pipelined behind it
//!   is read or answered ([`crate::connection`] does the closing).
//! - **Head size**: the request target plus every header field, bounded by
//!   `server.max_header_bytes` (431, RFC 6585). actix-http's own bounds (96 fields, a 128 KiB
//!   head) answer before this runs; [`crate::connection`] gives those the same JSON body.
//! - **Body time**: a request body must arrive whole within `server.body_read_timeout_ms` of the
//!   head; a body read that stalls fails, the route answers 408, and the connection is closed.
//!   (Heads are bounded in [`crate::connection`].)
//!
//! It also tells the connection when a request is in the application, so that the connection
//! knows when it is waiting for a head.

use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::http::{ConnectionType, Version};
use actix_web::middleware::Next;
use actix_web::rt::time::{Instant, Sleep, sleep_until};
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use futures_util::Stream;
use serde_json::json;

use crate::connection::{ConnHandle, RequestGuard};
use crate::errors::ApiError;

/// The configured request limits, shared with the middleware as app data.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Largest request target plus header fields, bytes (431 above it).
    pub max_header_bytes: usize,
    /// How long a request body may take to arrive after its head.
    pub body_read_timeout: Duration,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_header_bytes: 16 * 1024,
            body_read_timeout: Duration::from_secs(10),
        }
    }
}

/// Checks framing and head size, bounds the body in time, and tracks the request for its
/// connection (see the module documentation).
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<Tracked<EitherBody<impl MessageBody>>>, actix_web::Error> {
    let limits = req
        .app_data::<web::Data<RequestLimits>>()
        .map_or_else(RequestLimits::default, |l| *l.get_ref());
    let conn = req.conn_data::<ConnHandle>().cloned();
    let request = conn.as_ref().map(ConnHandle::request_started);
    if let Some(problem) = framing_problem(&req) {
        let response = close_after(ApiError::BadRequest(problem).error_response(), conn);
        return Ok(req.into_response(response).map_body(|_, body| Tracked {
            body: EitherBody::right(body),
            _request: request,
        }));
    }
    let limit = limits.max_header_bytes;
    if head_size(&req) > limit {
        let response =
            HttpResponse::build(actix_web::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
                .insert_header(("cache-control", "no-store"))
                .json(json!({
                    "error": "invalid_request",
                    "error_description": format!("request line and headers exceed {limit} bytes"),
                }));
        return Ok(req.into_response(response).map_body(|_, body| Tracked {
            body: EitherBody::right(BoxBody::new(body)),
            _request: request,
        }));
    }
    let body = bound_body(&mut req, limits.body_read_timeout);
    let mut response = next.call(req).await?;
    if body.is_some_and(|read_whole| !read_whole.get()) {
        // Answered before the body was read to its end (too large, too slow, not needed): the
        // rest of it may still come, so this connection is done, and the client is told so
        // rather than finding out when it reuses the connection (RFC 9112 section 9.6).
        response
            .response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(response.map_body(|_, body| Tracked {
        body: EitherBody::left(body),
        _request: request,
    }))
}

/// Why the request's framing is refused, if it is.
fn framing_problem(req: &ServiceRequest) -> Option<String> {
    let headers = req.headers();
    let coding = headers.get(TRANSFER_ENCODING)?;
    let why = if headers.contains_key(CONTENT_LENGTH) {
        "the request has both Content-Length and Transfer-Encoding"
    } else if req.version() < Version::HTTP_11 {
        "an HTTP/1.0 request cannot use Transfer-Encoding"
    } else if !coding
        .as_bytes()
        .trim_ascii()
        .eq_ignore_ascii_case(b"chunked")
    {
        "Transfer-Encoding must be chunked alone"
    } else {
        return None;
    };
    Some(format!(
        "{why} (RFC 9112 section 6.1): its length is ambiguous, so it is refused and the \
         connection is closed"
    ))
}

/// The request target plus every header field, bytes. Measured without allocating: this runs
/// on every request.
fn head_size(req: &ServiceRequest) -> usize {
    let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    target
        + req
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>()
}

/// `response` with `Connection: close`; on a real connection its body also closes the connection
/// once written (see [`HoldOpen`]).
fn close_after(response: HttpResponse, conn: Option<ConnHandle>) -> HttpResponse<BoxBody> {
    let (mut response, body) = response.into_parts();
    response
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    match (conn, body.try_into_bytes()) {
        (Some(conn), Ok(bytes)) => response.set_body(BoxBody::new(HoldOpen {
            bytes: Some(bytes),
            conn,
        })),
        (_, Ok(bytes)) => response.set_body(BoxBody::new(bytes)),
        (_, Err(body)) => response.set_body(body),
    }
}

/// Wraps the request's body (if it has one) so that reading it fails once `timeout` has passed;
/// the flag tells whether it was read to its end.
fn bound_body(req: &mut ServiceRequest, timeout: Duration) -> Option<Rc<Cell<bool>>> {
    let payload = req.take_payload();
    if matches!(payload, Payload::None) {
        return None;
    }
    let read_whole = Rc::new(Cell::new(false));
    req.set_payload(Payload::Stream {
        payload: Box::pin(Deadline {
            inner: payload,
            at: Instant::now() + timeout,
            timeout,
            sleep: None,
            fired: false,
            read_whole: read_whole.clone(),
        }),
    });
    Some(read_whole)
}

/// The description of a body read that failed because the body took too long, if it did.
pub fn body_timeout(err: &PayloadError) -> Option<String> {
    match err {
        PayloadError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => Some(e.to_string()),
        _ => None,
    }
}

/// A request body that fails once its deadline passes.
struct Deadline {
    inner: Payload,
    at: Instant,
    timeout: Duration,
    /// Made only when the body is not all there at once (the common case never arms a timer).
    sleep: Option<Pin<Box<Sleep>>>,
    /// The deadline passed (the body ends there).
    fired: bool,
    /// The body was read to its end.
    read_whole: Rc<Cell<bool>>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.fired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            if item.is_none() {
                this.read_whole.set(true);
            }
            return Poll::Ready(item);
        }
        let at = this.at;
        let sleep = this.sleep.get_or_insert_with(|| Box::pin(sleep_until(at)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.fired = true;
        Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "the request body was not received within {} ms (server.body_read_timeout_ms)",
                this.timeout.as_millis()
            ),
        )))))
    }
}

/// A response body that marks its connection for closing as it is handed over, then never
/// ends: the dispatcher cannot go on to a request pipelined behind it, and
/// [`crate::connection::Conn`] ends the connection once the bytes are flushed.
struct HoldOpen {
    bytes: Option<Bytes>,
    conn: ConnHandle,
}

impl MessageBody for HoldOpen {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.bytes.as_ref().map_or(0, |b| b.len() as u64))
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        match this.bytes.take() {
            Some(bytes) => {
                this.conn.close_after_flush();
                Poll::Ready(Some(Ok(bytes)))
            }
            None => Poll::Pending,
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that tells its connection when it is gone (see
    /// [`crate::connection`]); otherwise the body as it is.
    pub struct Tracked<B> {
        #[pin]
        body: B,
        _request: Option<RequestGuard>,
    }
}

impl<B: MessageBody> MessageBody for Tracked<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.project().body.poll_next(cx)
    }
}
