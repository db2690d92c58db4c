//! `/api/v1/keys`: the signing keys (pending, active, retiring) and rotation.
//!
//! A rotation announces a new key: it is in every node's JWKS at once, signs only after
//! `keys.rotation_announce_secs`, and the key it replaces keeps verifying for the longest
//! access-token lifetime plus the leeway (see `docs/cluster.md`). Private halves never leave the
//! key ring.

use actix_web::{HttpRequest, HttpResponse, web};
use scopegate_cluster::ClusterError;
use scopegate_cluster::keyring::{KeyInfo, KeyRingHandle, KeyStatus};
use scopegate_jwt::Algorithm;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AdminPrincipal;
use super::problem::{Problem, ProblemKind};
use crate::errors::ApiError;

/// One signing key, public facts only.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyView {
    /// The key id (RFC 7638 thumbprint), as in the JWKS and token headers.
    pub kid: String,
    /// `EdDSA`, `ES256` or `RS256`.
    pub alg: String,
    /// `pending` (announced, verifies, does not sign yet), `active` (signs) or `retiring`
    /// (verifies tokens it signed until `retire_at`).
    pub status: String,
    /// Created, seconds since the Unix epoch.
    pub created_at: u64,
    /// Signs from, seconds since the Unix epoch.
    pub activate_at: u64,
    /// For a retiring key: when it leaves the JWKS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retire_at: Option<u64>,
}

impl From<&KeyInfo> for KeyView {
    fn from(k: &KeyInfo) -> Self {
        Self {
            kid: k.kid.clone(),
            alg: k.alg.to_string(),
            status: match k.status {
                KeyStatus::Pending => "pending",
                KeyStatus::Active => "active",
                KeyStatus::Retiring => "retiring",
            }
            .to_owned(),
            created_at: k.created_at,
            activate_at: k.activate_at,
            retire_at: k.retire_at,
        }
    }
}

/// The key list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyList {
    /// Active key first, then pending and retiring keys.
    pub keys: Vec<KeyView>,
}

/// Optional rotation parameters.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// Algorithm of the new key; default `keys.algorithm`.
    #[serde(default)]
    #[schema(value_type = Option<AlgorithmName>, example = "EdDSA")]
    pub alg: Option<Algorithm>,
}

/// A signing algorithm scopegate supports (the document's view of `scopegate_jwt::Algorithm`).
#[derive(ToSchema)]
#[allow(dead_code, clippy::upper_case_acronyms)]
pub enum AlgorithmName {
    /// Ed25519 (RFC 8037).
    EdDSA,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
}

/// Lists the signing keys.
#[utoipa::path(get, path = "/api/v1/keys", tag = "keys",
    responses((status = 200, description = "The key ring", body = KeyList)))]
pub async fn list(ring: web::Data<KeyRingHandle>) -> HttpResponse {
    let keys = ring.keys();
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(KeyList {
            keys: keys.iter().map(KeyView::from).collect(),
        })
}

/// Announces a new signing key; it signs after the announce period.
#[utoipa::path(post, path = "/api/v1/keys/rotate", tag = "keys",
    request_body(content = Option<RotateRequest>, description = "Optional: the new key's algorithm"),
    responses((status = 201, description = "New key announced", body = KeyView)))]
pub async fn rotate(
    req: HttpRequest,
    payload: web::Payload,
    ring: web::Data<KeyRingHandle>,
    ctx: web::Data<super::AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let body = super::http::body_bytes(&req, payload, ctx.max_json_bytes).await?;
    let request: RotateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RotateRequest::default()
    } else {
        if !super::http::is_json(&super::http::media_type(&req)) {
            return Err(super::http::unsupported_media(
                &super::http::media_type(&req),
                "application/json",
            )
            .into());
        }
        // `null` is no request, as the document says (the body is optional).
        super::http::parse_json::<Option<RotateRequest>>(&body)?.unwrap_or_default()
    };
    let info = ring.rotate(request.alg).await.map_err(|e| match e {
        ClusterError::Unavailable(why) => Problem::new(
            ProblemKind::Unavailable,
            format!("the key store is unavailable, no key was rotated: {why}"),
        ),
        other => Problem::internal("key rotation failed", &other),
    })?;
    tracing::info!(admin = %who.0.subject, kid = %info.kid, activate_at = info.activate_at, "admin API rotated the signing key");
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(KeyView::from(&info)))
}
