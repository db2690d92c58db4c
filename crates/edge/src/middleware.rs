//! [`ScopeGate`]: the actix-web middleware (a `Transform`) that runs the [`Gate`] before the
//! wrapped service and stores the [`Principal`] in the request extensions.

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::AUTHORIZATION;
use actix_web::{Error, HttpMessage, ResponseError};
use futures_util::future::LocalBoxFuture;

use crate::gate::Gate;
use crate::rejection::Rejection;

/// Protects every route of the `App` or `Scope` it wraps:
///
/// ```no_run
/// use actix_web::{App, HttpServer, web};
/// use scopegate_edge::{Gate, JwksCache, JwksConfig, Principal, ScopeGate, ScopeRules};
///
/// async fn orders(principal: Principal) -> String {
///     format!("orders of {}", principal.subject)
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let keys = JwksCache::connect(JwksConfig::new("http://127.0.0.1:8080")).await?;
/// let rules = ScopeRules::from_policy_file("policy.toml", "ShoppingCartAPI")?;
/// let gate = Gate::new(keys, &rules)?;
/// HttpServer::new(move || {
///     App::new()
///         .wrap(ScopeGate::new(gate.clone()))
///         .route("/orders", web::get().to(orders))
/// })
/// .bind("127.0.0.1:8081")?
/// .run()
/// .await?;
/// # Ok(())
/// # }
/// ```
///
/// A refused request never reaches the wrapped service: it is answered 401/403/400 exactly as
/// the scopegate server answers (see [`crate::Rejection`]). Routes that must stay public (a
/// health check) belong outside the wrapped `App`/`Scope`; a CORS middleware must wrap *after*
/// this one (so it runs first) for preflight `OPTIONS` requests, which carry no token.
#[derive(Clone, Debug)]
pub struct ScopeGate {
    gate: Gate,
}

// === impl ScopeGate ===

impl ScopeGate {
    /// The middleware for `gate`.
    pub fn new(gate: Gate) -> ScopeGate {
        ScopeGate { gate }
    }
}

impl<S, B> Transform<S, ServiceRequest> for ScopeGate
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = ScopeGateService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ScopeGateService {
            service: Rc::new(service),
            gate: self.gate.clone(),
        }))
    }
}

/// The service [`ScopeGate`] wraps around the inner one.
#[derive(Debug)]
pub struct ScopeGateService<S> {
    /// The protected service; shared with the request future, which calls it after the await.
    service: Rc<S>,
    /// The decision.
    gate: Gate,
}

impl<S, B> Service<ServiceRequest> for ScopeGateService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let gate = self.gate.clone();
        Box::pin(async move {
            let mut headers = req.headers().get_all(AUTHORIZATION);
            let first = headers.next();
            let decision = if headers.next().is_some() {
                Err(Rejection::duplicate_authorization())
            } else {
                let authorization = first.and_then(|value| value.to_str().ok());
                gate.authorize(req.method().as_str(), req.uri().path(), authorization)
                    .await
            };
            match decision {
                Ok(principal) => {
                    req.extensions_mut().insert(principal);
                    let response = service.call(req).await?;
                    Ok(response.map_into_left_body())
                }
                Err(rejection) => {
                    tracing::debug!(
                        method = %req.method(),
                        path = req.uri().path(),
                        status = rejection.status,
                        error = rejection.error,
                        description = rejection.description,
                        "request refused"
                    );
                    let response = rejection.error_response();
                    Ok(req.into_response(response).map_into_right_body())
                }
            }
        })
    }
}
