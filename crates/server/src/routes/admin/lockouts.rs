//! `/api/v1/lockouts`: the sign-in throttle's lockouts, and lifting one.
//!
//! A username is locked after too many failed password grants, a client + source address after
//! too many failed sign-ins or client authentications from that address (see
//! `docs/operations.md`). A lockout ends by itself; an administrator who has checked that the
//! failures were the owner's lifts it here, which also gives the key a fresh failure budget.
//! In cluster mode the list and the lifting are the cluster's (Redis); if Redis cannot be
//! reached, lifting answers 503 rather than lifting on one node only.

use std::net::IpAddr;

use actix_web::{HttpResponse, web};
use scopegate_token_issuer::{Lockout, ThrottleKey};
use serde::Serialize;
use utoipa::ToSchema;

use super::problem::{Problem, ProblemDetails, ProblemKind};
use super::{AdminContext, AdminPrincipal};
use crate::errors::ApiError;

/// One lockout in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct LockoutView {
    /// `user` (a username) or `source` (a client from one address).
    pub kind: &'static str,
    /// The locked username (`user`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The locked client (`source`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The source address (`source`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// When the lockout ends, seconds since the Unix epoch.
    pub until: u64,
}

impl From<Lockout> for LockoutView {
    fn from(lockout: Lockout) -> Self {
        let kind = lockout.key.kind().as_str();
        match lockout.key {
            ThrottleKey::User { username } => Self {
                kind,
                username: Some(username),
                client_id: None,
                address: None,
                until: lockout.until,
            },
            ThrottleKey::Source { client_id, address } => Self {
                kind,
                username: None,
                client_id: Some(client_id),
                address: Some(address.to_string()),
                until: lockout.until,
            },
        }
    }
}

/// The lockouts in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct LockoutList {
    /// Every lockout in force, soonest end first.
    pub lockouts: Vec<LockoutView>,
}

/// What lifting did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Lifted {
    /// Whether a lockout was in force (the failure budget is reset either way).
    pub lifted: bool,
}

/// Lists the lockouts in force.
#[utoipa::path(get, path = "/api/v1/lockouts", tag = "lockouts",
    responses((status = 200, description = "The lockouts in force", body = LockoutList)))]
pub async fn list(ctx: web::Data<AdminContext>) -> HttpResponse {
    let mut lockouts = ctx.tokens.lockouts().await;
    lockouts.sort_by_key(|l| l.until);
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(LockoutList {
            lockouts: lockouts.into_iter().map(LockoutView::from).collect(),
        })
}

/// Lifts a username's lockout and resets its failure budget.
#[utoipa::path(delete, path = "/api/v1/lockouts/users/{username}", tag = "lockouts",
    params(("username" = String, Path, description = "The locked username")),
    responses(
        (status = 200, description = "Lifted (or nothing was locked)", body = Lifted),
        (status = 503, description = "The cluster's sign-in counters cannot be reached; the lockout is still in force",
            body = ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn clear_user(
    path: web::Path<String>,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let key = ThrottleKey::User {
        username: path.into_inner(),
    };
    lift(&ctx, &who, key).await
}

/// Lifts a client's lockout from one source address and resets its failure budget.
#[utoipa::path(delete, path = "/api/v1/lockouts/sources/{client_id}/{address}", tag = "lockouts",
    params(
        ("client_id" = String, Path, description = "The locked client id"),
        ("address" = String, Path, description = "The source address (IPv4 or IPv6)"),
    ),
    responses(
        (status = 200, description = "Lifted (or nothing was locked)", body = Lifted),
        (status = 422, description = "The address is not an IPv4 or IPv6 address; `errors` names it",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "The cluster's sign-in counters cannot be reached; the lockout is still in force",
            body = ProblemDetails, content_type = "application/problem+json"),
    ))]
pub async fn clear_source(
    path: web::Path<(String, String)>,
    ctx: web::Data<AdminContext>,
    who: AdminPrincipal,
) -> Result<HttpResponse, ApiError> {
    let (client_id, address) = path.into_inner();
    let address: IpAddr = address.parse().map_err(|_| {
        Problem::new(
            ProblemKind::ValidationFailed,
            "the source address is not an IPv4 or IPv6 address",
        )
        .field("address", "must be an IPv4 or IPv6 address")
    })?;
    lift(&ctx, &who, ThrottleKey::Source { client_id, address }).await
}

async fn lift(
    ctx: &AdminContext,
    who: &AdminPrincipal,
    key: ThrottleKey,
) -> Result<HttpResponse, ApiError> {
    let lifted = ctx.tokens.clear_lockout(&key).await.map_err(|e| {
        tracing::warn!(error = %e, "lifting a lockout failed");
        Problem::new(
            ProblemKind::Unavailable,
            "the cluster's sign-in counters cannot be reached, so the lockout is still in \
             force; retry later",
        )
    })?;
    tracing::info!(
        admin = ?who.0.subject,
        key = ?key,
        lifted,
        "admin API lifted a sign-in lockout"
    );
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(Lifted { lifted }))
}
