//! Request-head limits enforced before any handler runs.
//!
//! actix-web bounds the request head only by its internal buffer (and 96 headers); this
//! middleware sets a tighter, configurable bound on the request line plus all header fields, and
//! answers 431 (RFC 6585) with a JSON body instead of passing an oversized request on.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use serde_json::json;

/// The configured bound, in bytes, shared with the middleware.
#[derive(Debug, Clone, Copy)]
pub struct MaxHeaderBytes(pub usize);

/// Refuses requests whose URI and header fields together exceed [`MaxHeaderBytes`].
pub async fn limit_head(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let limit = req
        .app_data::<web::Data<MaxHeaderBytes>>()
        .map_or(16 * 1024, |m| m.0);
    // Measured without allocating: this runs on every request.
    let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    let size = target
        + req
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    if size > limit {
        let response = HttpResponse::build(
            actix_web::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        )
        .json(json!({
            "error": "invalid_request",
            "error_description": format!("request line and headers exceed {limit} bytes"),
        }));
        return Ok(req.into_response(response).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}
