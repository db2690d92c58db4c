//! Tests of [`ScopeValidator`] with its real actor and a real redb store in a temporary
//! directory, the shipped quickstart policy, and tokens signed with real keys.

mod cache;
mod remote;
mod revocation;
mod seeds;
mod tokens;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use scopegate_core::{Policy, PolicyDocument};
use scopegate_jwt::{AccessTokenClaims, Algorithm, Audience, KeySet, SigningKey};
use scopegate_policy_store::PolicyReader;

use crate::{
    Decision, Deny, EmbeddedRevocationStore, ScopeValidator, ValidatorConfig, ValidatorSettings,
};

/// The quickstart policy the product ships.
const QUICKSTART: &str = include_str!("../../../../examples/quickstart/policy.toml");

/// The time the tests start at.
pub(crate) const T0: u64 = 1_700_000_000;
/// Lifetime of the test tokens.
pub(crate) const TTL: u64 = 3600;
pub(crate) const ISSUER: &str = "https://scopegate.test";
pub(crate) const AUDIENCE: &str = "scopegate";

/// The quickstart policy as a reader over a fixed snapshot.
pub(crate) fn quickstart() -> PolicyReader {
    let doc: PolicyDocument = toml::from_str(QUICKSTART).unwrap();
    PolicyReader::fixed(Policy::from_document(1, doc).unwrap())
}

/// A running validator over the quickstart policy with a settable clock (for the pruning
/// timer) and a revocation store in its own temporary directory.
pub(crate) struct Harness {
    pub(crate) validator: ScopeValidator,
    pub(crate) keys: Arc<ArcSwap<KeySet>>,
    pub(crate) key: SigningKey,
    pub(crate) dir: tempfile::TempDir,
    clock: Arc<AtomicU64>,
    jti: AtomicU64,
}

impl Harness {
    /// Default settings, an EdDSA key (call inside an actix System).
    pub(crate) fn start() -> Self {
        Self::with(ValidatorSettings::default())
    }

    /// `settings`, an EdDSA key, a fresh store.
    pub(crate) fn with(settings: ValidatorSettings) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let keys = Arc::new(ArcSwap::from_pointee(KeySet::new(key.clone())));
        let clock = Arc::new(AtomicU64::new(T0));
        let validator = start_validator(&dir, settings, Arc::clone(&keys), Arc::clone(&clock));
        Self {
            validator,
            keys,
            key,
            dir,
            clock,
            jti: AtomicU64::new(0),
        }
    }

    /// A second validator over the same data directory, as after a restart (the first one must
    /// be dropped, and its arbiter given time to release the store).
    pub(crate) fn restart(self) -> Self {
        let Harness {
            validator,
            keys,
            key,
            dir,
            clock,
            jti,
        } = self;
        drop(validator);
        // The old arbiter drops the store (and its file lock) when its thread ends: poll.
        let mut attempt = 0;
        let validator = loop {
            match try_start(&dir, ValidatorSettings::default(), &keys, &clock) {
                Ok(v) => break v,
                Err(_) if attempt < 500 => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("restart failed: {e}"),
            }
        };
        Self {
            validator,
            keys,
            key,
            dir,
            clock,
            jti,
        }
    }

    /// Claims for `user` with `scope`, valid from T0 for [`TTL`], with a fresh `jti`.
    pub(crate) fn claims(&self, user: &str, scope: &str) -> AccessTokenClaims {
        let n = self.jti.fetch_add(1, Ordering::Relaxed);
        AccessTokenClaims {
            iss: ISSUER.into(),
            sub: user.into(),
            aud: Audience::from(AUDIENCE),
            exp: T0 + TTL,
            iat: T0,
            nbf: T0,
            jti: format!("jti-{n}"),
            client_id: "shopping-app".into(),
            scope: scope.into(),
            username: Some(user.into()),
            sid: None,
        }
    }

    /// A token for `user` with `scope`, signed with the harness key.
    pub(crate) fn token(&self, user: &str, scope: &str) -> String {
        self.key.sign(&self.claims(user, scope)).unwrap()
    }

    /// `decide` at T0.
    pub(crate) fn decide(&self, token: &str, method: &str, path: &str) -> Decision {
        self.validator.decide(Some(token), method, path, T0)
    }
}

fn start_validator(
    dir: &tempfile::TempDir,
    settings: ValidatorSettings,
    keys: Arc<ArcSwap<KeySet>>,
    clock: Arc<AtomicU64>,
) -> ScopeValidator {
    try_start(dir, settings, &keys, &clock).unwrap()
}

fn try_start(
    dir: &tempfile::TempDir,
    settings: ValidatorSettings,
    keys: &Arc<ArcSwap<KeySet>>,
    clock: &Arc<AtomicU64>,
) -> Result<ScopeValidator, crate::StartError> {
    let store = EmbeddedRevocationStore::open(dir.path())?;
    let config = ValidatorConfig {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        settings,
    };
    let now = Arc::clone(clock);
    ScopeValidator::start_with_clock(
        config,
        quickstart(),
        Arc::clone(keys),
        Box::new(store),
        Arc::new(move || now.load(Ordering::SeqCst)),
    )
}

/// The deny of a decision, or a panic naming the allow.
#[track_caller]
pub(crate) fn denied(decision: Decision) -> Deny {
    match decision {
        Decision::Deny(deny) => deny,
        allow => panic!("expected a deny, got {allow:?}"),
    }
}

/// The API of an allow, or a panic naming the deny.
#[track_caller]
pub(crate) fn allowed(decision: Decision) -> Option<String> {
    match decision {
        Decision::Allow { api, .. } => api,
        Decision::Deny(deny) => panic!("expected an allow, got {deny:?}"),
    }
}

/// Asserts a 401 `invalid_token` whose description contains `reason`, and returns it.
#[track_caller]
pub(crate) fn assert_invalid_token(decision: Decision, reason: &str) -> Deny {
    let deny = denied(decision);
    assert_eq!(
        (deny.status, deny.error),
        (401, "invalid_token"),
        "{deny:?}"
    );
    assert!(
        deny.description.contains(reason),
        "description {:?} should name {reason:?}",
        deny.description
    );
    assert!(deny.granted.is_empty() && deny.required.is_empty() && deny.api.is_none());
    // The metric label follows the description: every refusal names its check both ways.
    let expected = [
        ("no access token", "missing_token"),
        ("malformed", "malformed_token"),
        ("not an access token", "malformed_token"),
        ("no key id", "unknown_key"),
        ("unknown key", "unknown_key"),
        ("algorithm does not match", "bad_signature"),
        ("signature is invalid", "bad_signature"),
        ("expired", "expired"),
        ("not valid yet", "not_yet_valid"),
        ("another issuer", "wrong_issuer"),
        ("audience", "wrong_audience"),
        ("revoked", "revoked"),
    ]
    .iter()
    .find(|(text, _)| reason.contains(text))
    .map(|(_, label)| *label)
    .unwrap_or_else(|| panic!("no reason label is known for {reason:?}"));
    assert_eq!(deny.reason.as_str(), expected, "{deny:?}");
    deny
}

/// base64url without padding.
pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS with an arbitrary `header`, signed by the Ed25519 `key` through aws-lc-rs
/// directly (so the header can say anything).
pub(crate) fn forge(
    key: &SigningKey,
    header: serde_json::Value,
    claims: &AccessTokenClaims,
) -> String {
    let pem = key.to_pem();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(body).unwrap();
    let pair = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(&der).unwrap();
    let input = format!(
        "{}.{}",
        b64(header.to_string()),
        b64(serde_json::to_vec(claims).unwrap())
    );
    let signature = pair.sign(input.as_bytes());
    format!("{input}.{}", b64(signature.as_ref()))
}

#[test]
fn the_handle_is_cheap_to_share_between_workers() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<ScopeValidator>();
    shareable::<Decision>();
}
