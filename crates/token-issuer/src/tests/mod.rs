//! End-to-end tests of [`TokenService`]: real actor, real redb in a temporary directory, real
//! argon2 (cheap parameters where the cost is not the point), tokens checked with the JWT
//! [`Verifier`].

mod pool;
mod quickstart;
mod refresh;
mod throttle;
mod trust;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Argon2, Params};
use scopegate_core::{Policy, PolicyDocument};
use scopegate_jwt::{AccessTokenClaims, Algorithm, KeySet, SigningKey, Verifier};
use scopegate_policy_store::PolicyReader;

use crate::{
    EmbeddedRefreshStore, IssuerConfig, TokenError, TokenRequest, TokenResponse, TokenService,
};

/// The quickstart policy the product ships.
const QUICKSTART: &str = include_str!("../../../../examples/quickstart/policy.toml");

/// The time the tests start at.
pub(crate) const T0: u64 = 1_700_000_000;

/// The quickstart policy as a document, with its real (default-cost) argon2 hashes.
pub(crate) fn quickstart() -> PolicyDocument {
    toml::from_str(QUICKSTART).unwrap()
}

/// An argon2id hash with the smallest parameters: verifies in well under a millisecond, so
/// tests whose subject is not argon2's cost stay fast in debug builds.
pub(crate) fn cheap_hash(secret: &str) -> String {
    let params = Params::new(8, 1, 1, None).unwrap();
    let argon = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"scopegate-tests!").unwrap();
    argon
        .hash_password(secret.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

/// The quickstart policy with cheap hashes of the same demo credentials, plus `other-app`
/// (secret `other-secret`, password and refresh grants) for cross-client tests.
pub(crate) fn cheap_quickstart() -> PolicyDocument {
    let mut doc = quickstart();
    for user in &mut doc.users {
        user.password_hash = cheap_hash(&format!("{}123", user.username));
    }
    for client in &mut doc.clients {
        let secret = client.client_id.split('-').next().unwrap().to_owned() + "-secret";
        client.secret_hash = cheap_hash(&secret);
    }
    let mut other = doc.clients[0].clone();
    other.client_id = "other-app".to_owned();
    other.secret_hash = cheap_hash("other-secret");
    doc.clients.push(other);
    doc
}

/// Records the families the service asks to revoke (the server passes the scope validator).
#[derive(Default)]
pub(crate) struct RecordedFamilies(pub(crate) std::sync::Mutex<Vec<(String, u64)>>);

impl crate::FamilyRevoker for RecordedFamilies {
    fn revoke_family(
        &self,
        family: String,
        last_exp: u64,
    ) -> futures_util::future::BoxFuture<'static, Result<(), String>> {
        self.0.lock().unwrap().push((family, last_exp));
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Links for a service under test: families recorded in `families`, no shared throttle.
pub(crate) fn links(families: &Arc<RecordedFamilies>) -> crate::Links {
    crate::Links {
        families: Arc::clone(families) as Arc<dyn crate::FamilyRevoker>,
        throttle: None,
    }
}

/// A running service with a settable clock and a fresh refresh store.
pub(crate) struct Harness {
    pub(crate) service: TokenService,
    pub(crate) keys: Arc<ArcSwap<KeySet>>,
    pub(crate) config: IssuerConfig,
    /// The families the service revoked access tokens of.
    pub(crate) families: Arc<RecordedFamilies>,
    clock: Arc<AtomicU64>,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// Starts a service over a fixed policy `doc` (call inside an actix System).
    pub(crate) fn start(doc: PolicyDocument, config: IssuerConfig) -> Self {
        let policy = PolicyReader::fixed(Policy::from_document(1, doc).unwrap());
        Self::with_reader(policy, config)
    }

    /// Starts a service over `policy`.
    pub(crate) fn with_reader(policy: PolicyReader, config: IssuerConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedRefreshStore::open(dir.path()).unwrap();
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let keys = Arc::new(ArcSwap::from_pointee(KeySet::new(key)));
        let clock = Arc::new(AtomicU64::new(T0));
        let now = Arc::clone(&clock);
        let families = Arc::new(RecordedFamilies::default());
        let service = TokenService::start_with_clock(
            config.clone(),
            policy,
            Arc::clone(&keys),
            Box::new(store),
            links(&families),
            Arc::new(move || now.load(Ordering::SeqCst)),
        )
        .unwrap();
        Self {
            service,
            keys,
            config,
            families,
            clock,
            _dir: dir,
        }
    }

    /// Sets the clock.
    pub(crate) fn set_now(&self, now: u64) {
        self.clock.store(now, Ordering::SeqCst);
    }

    /// Parses `body` (no Authorization header) and asks for a token.
    pub(crate) async fn token(&self, body: &str) -> Result<TokenResponse, TokenError> {
        let request = TokenRequest::parse(body.as_bytes(), None)?;
        self.service.token(request).await
    }

    /// Verifies an issued access token with the current keys, as a resource server would.
    pub(crate) fn verify(&self, token: &str) -> AccessTokenClaims {
        let verifier = Verifier::new(
            self.keys.load_full(),
            self.config.issuer.clone(),
            self.config.audience.clone(),
            0,
        );
        verifier
            .verify(token, self.clock.load(Ordering::SeqCst))
            .unwrap()
    }
}

/// A `password` grant body for `user` (password `user123`) via shopping-app.
pub(crate) fn password_body(user: &str, scope: &str) -> String {
    format!(
        "grant_type=password&username={user}&password={user}123&scope={scope}\
         &client_id=shopping-app&client_secret=shopping-secret"
    )
}

/// A `client_credentials` grant body.
pub(crate) fn cc_body(client: &str, secret: &str, scope: &str) -> String {
    format!("grant_type=client_credentials&client_id={client}&client_secret={secret}&scope={scope}")
}

/// A `refresh_token` grant body for `client`.
pub(crate) fn refresh_body(token: &str, client: &str, secret: &str, scope: &str) -> String {
    format!(
        "grant_type=refresh_token&refresh_token={token}&scope={scope}\
         &client_id={client}&client_secret={secret}"
    )
}

/// Whether an error is `invalid_grant`.
pub(crate) fn is_invalid_grant(result: &Result<TokenResponse, TokenError>) -> bool {
    matches!(result, Err(TokenError::InvalidGrant(_)))
}
