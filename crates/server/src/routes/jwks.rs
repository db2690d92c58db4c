//! `GET /oauth2/jwks` and `GET /.well-known/jwks.json`: the public keys tokens verify against.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use arc_swap::ArcSwap;
use scopegate_jwt::KeySet;

/// The JWK Set of every key that may have signed a live token.
pub async fn jwks(keys: web::Data<Arc<ArcSwap<KeySet>>>) -> HttpResponse {
    let jwks = keys.load().jwks();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/jwk-set+json")
        .json(jwks)
}
