//! Logging: `tracing` with a text or JSON formatter, and a request-log middleware.
//!
//! Request logs carry the method, the path *without its query string* (queries can carry
//! credentials), the status and the latency. Nothing here ever logs headers or bodies, so
//! passwords, client secrets and tokens cannot reach the log through it.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt as _;
use tracing_subscriber::fmt::format::{self, FormatFields};

use crate::settings::{LogFormat, LogSettings};

/// Installs the global subscriber. `RUST_LOG`, when set, overrides the configured level.
///
/// Every line is one event: text lines escape control characters in the message and in every
/// field ([`escaped_fields`]), JSON lines are escaped by JSON itself, so no input (a subject
/// with a newline, say) can start a line of its own. Colours only go to a terminal.
pub fn init(settings: &LogSettings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests) keeps the first subscriber; that is fine.
    let _ = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.fmt_fields(escaped_fields()).try_init(),
    };
}

/// The text formatter's fields: `message` first as it is, then `name=value`, each with its
/// control characters escaped (`\n`, `\u{1b}`).
pub fn escaped_fields() -> impl for<'w> FormatFields<'w> + Send + Sync + 'static {
    format::debug_fn(|writer, field, value| {
        let text = format!("{value:?}");
        let text = escape_controls(&text);
        if field.name() == "message" {
            write!(writer, "{text}")
        } else {
            write!(writer, "{}={text}", field.name())
        }
    })
    .delimited(" ")
}

/// `text` with every control character written as its Rust escape.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Logs one line per request at `debug` (server errors at `warn`).
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let response = next.call(req).await?;
    // Method and path are read back from the response's request: nothing is copied on the
    // hot path when the line is not logged.
    let status = response.status().as_u16();
    if status >= 500 || tracing::enabled!(tracing::Level::DEBUG) {
        let micros = started.elapsed().as_micros() as u64;
        let request = response.request();
        let (method, path) = (request.method(), request.path());
        if status >= 500 {
            tracing::warn!(%method, path, status, micros, "request");
        } else {
            tracing::debug!(%method, path, status, micros, "request");
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer into a shared buffer, for reading what the formatter wrote.
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_text_line_is_one_line_whatever_it_prints() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .fmt_fields(escaped_fields())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let subject = "alex\nINFO forged";
            tracing::info!(%subject, other = ?subject, "revoked {}", "bob\r\nWARN forged");
        });
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert!(
            text.contains(
                r#"revoked bob\r\nWARN forged subject=alex\nINFO forged other="alex\nINFO forged""#
            ),
            "{text:?}"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("alex"), "alex");
        assert_eq!(
            escape_controls("a\nINFO forged\r\u{1b}[31m\u{0}"),
            "a\\nINFO forged\\r\\u{1b}[31m\\u{0}"
        );
    }
}
