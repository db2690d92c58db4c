//! [`Application`]: builds every actor and the HTTP server from [`Settings`], on a listener that is
//! already bound, so callers (and tests) learn the real address before serving.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;

use std::time::Duration;

use actix_http::error::DispatchError;
use actix_http::{Extensions, KeepAlive};
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::{AppConfig, Server};
use actix_web::rt::net::TcpStream;
use actix_web::{App, middleware, web};
use anyhow::Context;
use scopegate_core::PolicyDocument;
use scopegate_policy_store::PolicyStoreHandle;
use scopegate_scope_validator::{ScopeValidator, ValidatorConfig};
use scopegate_token_issuer::{FamilyRevoker, IssuerConfig, Links, TokenService};

use crate::connection::{Conn, WireLimits};
use crate::errors::ApiError;
use crate::limits::RequestLimits;
use crate::metrics::{Metrics, Probes};
use crate::routes::source::TrustedProxies;
use crate::settings::Settings;
use crate::{limits, metrics, routes, stores, telemetry};

/// The issuer identifier (`iss`, RFC 8414 `issuer`), shared with handlers.
#[derive(Debug, Clone)]
pub struct Issuer(pub String);

/// Request-size limits, shared with handlers.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest form body, bytes.
    pub max_form_bytes: usize,
    /// Largest JSON body, bytes.
    pub max_json_bytes: usize,
}

/// A built, bound, not yet running scopegate node.
pub struct Application {
    /// The address the listener is bound to (the real port when 0 was asked for).
    address: SocketAddr,
    /// The actix-web server; runs when awaited.
    server: Server,
    /// Held so the policy can be read (and, later, written) by whoever holds the application.
    policy: PolicyStoreHandle,
}

impl Application {
    /// Opens the store, loads keys, starts the actors and binds the HTTP listener.
    /// Must run inside an actix System (`#[actix_web::main]`, `#[actix_web::test]`).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.server.listen)
            .with_context(|| format!("could not listen on {}", settings.server.listen))?;
        let address = listener.local_addr()?;
        let issuer = settings
            .server
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}"));

        let cluster = stores::open_cluster(&settings)?;
        let seed = match &settings.storage.policy_file {
            Some(path) => Some(read_policy_file(path)?),
            None => None,
        };
        let policy = stores::policy_store(&settings, cluster.as_ref(), seed)?;
        let reader = policy.reader();
        tracing::info!(version = reader.version(), "policy loaded");

        let node = stores::NodeState::new(&settings, cluster.as_ref());
        let ring = stores::key_ring(&settings, cluster.as_ref())?;
        let keys = ring.key_set();
        {
            let signing = keys.load();
            let signing = signing.signing();
            tracing::info!(kid = signing.kid(), alg = %signing.algorithm(), "signing key loaded");
        }

        let tokens = &settings.tokens;
        let revocations = stores::revocation_store(&settings, cluster.as_ref())?;
        let validator = ScopeValidator::start(
            ValidatorConfig {
                issuer: issuer.clone(),
                audience: tokens.audience.clone(),
                settings: settings.validation.clone(),
            },
            reader.clone(),
            keys.clone(),
            revocations,
        )
        .map_err(|e| anyhow::anyhow!("could not start the scope validator: {e}"))?;

        let config = IssuerConfig {
            issuer: issuer.clone(),
            ..tokens.clone()
        };
        let refresh = stores::refresh_store(&settings, cluster.as_ref())?;
        let links = Links {
            families: Arc::new(ValidatorFamilies(validator.clone())),
            throttle: stores::throttle_store(&settings, cluster.as_ref()),
        };
        let token_service =
            TokenService::start(config, reader.clone(), keys.clone(), refresh, links)
                .map_err(|e| anyhow::anyhow!("could not start the token issuer: {e}"))?;

        if let Some(cluster) = &cluster {
            stores::spawn_listeners(&settings, cluster, &policy, &validator, &ring);
            tracing::info!(node = %node.node_id, prefix = %settings.cluster.key_prefix, "cluster mode: listening for other nodes' changes");
        }

        // The admin API: ensure its bootstrap administrator, then share what its handlers need.
        routes::admin::bootstrap::ensure(&policy, &settings.admin)
            .await
            .context("could not set up the bootstrap administrator")?;
        let admin = web::Data::new(routes::admin::AdminContext::new(
            policy.clone(),
            validator.clone(),
            token_service.clone(),
            settings.admin.clone(),
            settings.server.max_json_bytes,
        ));
        let horizon = routes::admin::revocations::RevocationHorizon(
            settings
                .tokens
                .access_token_ttl_secs
                .saturating_add(settings.validation.leeway_secs),
        );

        let metrics = web::Data::new(Metrics::new().context("could not set up metrics")?);
        let probes = web::Data::new(std::sync::Arc::new(Probes::new(
            reader.clone(),
            policy.clone(),
            validator.clone(),
            token_service.clone(),
            ring.clone(),
            node.clone(),
            settings.tokens.hash_queue,
            settings.keys.rotation_period_days.saturating_mul(86_400),
        )));

        let limits = Limits {
            max_form_bytes: settings.server.max_form_bytes,
            max_json_bytes: settings.server.max_json_bytes,
        };
        let max_json = settings.server.max_json_bytes;
        let trusted = web::Data::new(TrustedProxies(settings.server.trusted_proxies.clone()));
        let server_settings = &settings.server;
        if server_settings.header_read_timeout_ms == 0 || server_settings.body_read_timeout_ms == 0
        {
            anyhow::bail!(
                "server.header_read_timeout_ms and server.body_read_timeout_ms must be at least 1"
            );
        }
        let header_timeout = Duration::from_millis(server_settings.header_read_timeout_ms);
        let request_limits = RequestLimits {
            max_header_bytes: server_settings.max_header_bytes,
            body_read_timeout: Duration::from_millis(server_settings.body_read_timeout_ms),
        };
        let keep_alive = match server_settings.keep_alive_secs {
            0 => KeepAlive::Disabled,
            secs => KeepAlive::Timeout(Duration::from_secs(secs)),
        };
        let wire = WireLimits {
            header_read_timeout: header_timeout,
        };
        let issuer = Issuer(issuer);
        let app = move || {
            App::new()
                .wrap(middleware::from_fn(limits::guard))
                .wrap(middleware::from_fn(telemetry::log_request))
                .wrap(middleware::from_fn(metrics::observe_request))
                .app_data(web::Data::new(request_limits))
                .app_data(web::Data::new(token_service.clone()))
                .app_data(web::Data::new(validator.clone()))
                .app_data(web::Data::new(reader.clone()))
                .app_data(web::Data::new(keys.clone()))
                .app_data(web::Data::new(ring.clone()))
                .app_data(web::Data::new(node.clone()))
                .app_data(web::Data::new(horizon))
                .app_data(web::Data::new(issuer.clone()))
                .app_data(web::Data::new(limits))
                .app_data(trusted.clone())
                .app_data(json_config(max_json))
                .app_data(admin.clone())
                .app_data(metrics.clone())
                .app_data(probes.clone())
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
        };
        // actix-web's `HttpServer` is this same actix-http HTTP/1 service on actix-server, less
        // the socket wrapper ([`Conn`]) that closes the gaps its codec leaves (see
        // `connection.rs`). `AppConfig::default()` only names a host for URL generation when a
        // request has no `Host` header; nothing here generates URLs.
        let mut builder = actix_server::Server::build().shutdown_timeout(5);
        if settings.server.workers > 0 {
            builder = builder.workers(settings.server.workers);
        }
        let server = builder
            .listen("scopegate", listener, move || {
                let service = actix_http::HttpService::build()
                    .keep_alive(keep_alive)
                    .client_request_timeout(header_timeout)
                    .client_disconnect_timeout(Duration::from_secs(1))
                    .local_addr(address)
                    .on_connect_ext(|conn: &Conn, data: &mut Extensions| {
                        data.insert(conn.handle());
                    })
                    .h1(map_config(
                        app()
                            .into_factory()
                            .map_err(|err: actix_web::Error| err.error_response()),
                        |_| AppConfig::default(),
                    ));
                fn_service(move |io: TcpStream| {
                    let conn = Conn::new(io, wire);
                    let peer = conn.peer_addr();
                    std::future::ready(Ok::<_, DispatchError>((conn, peer)))
                })
                .and_then(service)
            })?
            .run();
        Ok(Self {
            address,
            server,
            policy,
        })
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The policy store of this node.
    pub fn policy(&self) -> &PolicyStoreHandle {
        &self.policy
    }

    /// Serves until the server is stopped (SIGINT/SIGTERM).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _req| {
            let api = match &err {
                actix_web::error::JsonPayloadError::Overflow { .. }
                | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                    ApiError::PayloadTooLarge { limit }
                }
                actix_web::error::JsonPayloadError::Payload(payload) => {
                    match crate::limits::body_timeout(payload) {
                        Some(why) => ApiError::RequestTimeout(why),
                        None => ApiError::BadRequest("the JSON body could not be read".to_owned()),
                    }
                }
                actix_web::error::JsonPayloadError::Deserialize(e) => {
                    ApiError::BadRequest(crate::errors::json_problem(e))
                }
                actix_web::error::JsonPayloadError::ContentType => ApiError::BadRequest(
                    "the request body must be application/json (Content-Type)".to_owned(),
                ),
                other => {
                    tracing::debug!(error = %other, "reading a JSON body failed");
                    ApiError::BadRequest("the JSON body could not be read".to_owned())
                }
            };
            api.into()
        })
}

/// Revokes a refresh family's access tokens in the scope validator's revocation set (and so
/// in its store and, in cluster mode, on every node).
struct ValidatorFamilies(ScopeValidator);

impl FamilyRevoker for ValidatorFamilies {
    fn revoke_family(
        &self,
        family: String,
        last_exp: u64,
    ) -> futures_util::future::BoxFuture<'static, Result<(), String>> {
        let validator = self.0.clone();
        Box::pin(async move {
            validator
                .revoke_family(family, last_exp)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// Reads and validates the declarative policy file.
pub fn read_policy_file(path: &Path) -> anyhow::Result<PolicyDocument> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read policy file {}", path.display()))?;
    let doc: PolicyDocument = toml::from_str(&text)
        .with_context(|| format!("policy file {} is not valid", path.display()))?;
    let problems = doc.validate();
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        anyhow::bail!(
            "policy file {} has {} problem(s):\n{}",
            path.display(),
            problems.len(),
            list.join("\n")
        );
    }
    Ok(doc)
}
