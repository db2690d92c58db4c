//! Logging: `tracing` with a text or JSON formatter, and a request-log middleware.
//!
//! Request logs carry the method, the path *without its query string* (queries can carry
//! credentials), the status and the latency. Nothing here ever logs headers or bodies, so
//! passwords, client secrets and tokens cannot reach the log through it.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tracing_subscriber::EnvFilter;

use crate::settings::{LogFormat, LogSettings};

/// Installs the global subscriber. `RUST_LOG`, when set, overrides the configured level.
pub fn init(settings: &LogSettings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) keeps the first subscriber; that is fine.
    let _ = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
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
