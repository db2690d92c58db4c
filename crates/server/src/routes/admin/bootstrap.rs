//! The bootstrap administrator: a client from `[admin]` that can obtain every internal scope.
//!
//! At startup (and after every policy import) the policy is brought to hold, through ordinary
//! [`PolicyEvent`]s:
//! - the role `admin.bootstrap_role` (default `scopegate-admin`);
//! - every internal scope of [`INTERNAL_SCOPES`], listing that role;
//! - the client `admin.bootstrap_client_id` with the configured secret hash, the
//!   `client_credentials` grant, that role, and enabled.
//!
//! Only what is missing or different is written ([`events`] is empty on a policy that already
//! holds all of it), and the write is conditional on the version it was computed from, so
//! restarts are no-ops and several nodes starting together converge: a node that loses the race
//! recomputes from the winner's policy and finds nothing left to do.

use std::time::Duration;

use scopegate_core::{Client, GrantType, Policy, PolicyEvent, Role, Scope};
use scopegate_policy_store::{PolicyStoreHandle, StoreError};

use super::access::INTERNAL_SCOPES;
use crate::settings::AdminSettings;

/// How often [`ensure`] recomputes after losing a race with another writer.
const ATTEMPTS: u32 = 5;

/// Why the bootstrap administrator could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// `[admin]` is incomplete or holds something unusable.
    #[error("[admin] {0}")]
    Config(String),
    /// The policy store refused or failed the change.
    #[error("could not record the bootstrap administrator: {0}")]
    Store(#[from] StoreError),
}

/// The bootstrap client and role, when `[admin]` configures one.
struct Bootstrap<'a> {
    client_id: &'a str,
    secret_hash: &'a str,
    role: &'a str,
}

fn configured(settings: &AdminSettings) -> Result<Option<Bootstrap<'_>>, BootstrapError> {
    let id = settings.bootstrap_client_id.as_deref();
    let hash = settings.bootstrap_client_secret_hash.as_deref();
    match (id, hash) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(BootstrapError::Config(
            "bootstrap_client_id is set but bootstrap_client_secret_hash is not (set it, e.g. \
             with SCOPEGATE__ADMIN__BOOTSTRAP_CLIENT_SECRET_HASH, to the output of \
             `scopegate hash-secret`)"
                .to_owned(),
        )),
        (None, Some(_)) => Err(BootstrapError::Config(
            "bootstrap_client_secret_hash is set but bootstrap_client_id is not".to_owned(),
        )),
        (Some(client_id), Some(secret_hash)) => {
            if !secret_hash.starts_with("$argon2id$") {
                return Err(BootstrapError::Config(
                    "bootstrap_client_secret_hash must be an argon2id hash in PHC format \
                     ($argon2id$...), as `scopegate hash-secret` prints it"
                        .to_owned(),
                ));
            }
            if settings.bootstrap_role.trim().is_empty() {
                return Err(BootstrapError::Config(
                    "bootstrap_role must not be empty".to_owned(),
                ));
            }
            Ok(Some(Bootstrap {
                client_id,
                secret_hash,
                role: &settings.bootstrap_role,
            }))
        }
    }
}

/// The events that make `policy` hold the bootstrap administrator; empty when it already does
/// or when none is configured (or `[admin]` is unusable, which [`ensure`] reports at startup).
pub fn events(policy: &Policy, settings: &AdminSettings) -> Vec<PolicyEvent> {
    let Ok(Some(b)) = configured(settings) else {
        return Vec::new();
    };
    let mut events = Vec::new();
    if policy.role(b.role).is_none() {
        events.push(PolicyEvent::PutRole(Role {
            name: b.role.to_owned(),
            permissions: Vec::new(),
            description: "scopegate administrators: every internal scope of the admin API \
                          (bootstrap)"
                .to_owned(),
        }));
    }
    for internal in INTERNAL_SCOPES {
        match policy.scope(internal.key) {
            None => events.push(PolicyEvent::PutScope(Scope {
                key: internal.key.to_owned(),
                name: internal.name.to_owned(),
                description: internal.description.to_owned(),
                roles: vec![b.role.to_owned()],
                permission: None,
            })),
            Some(scope) if !scope.roles.iter().any(|r| r == b.role) => {
                let mut scope = scope.clone();
                scope.roles.push(b.role.to_owned());
                events.push(PolicyEvent::PutScope(scope));
            }
            Some(_) => {}
        }
    }
    let wanted = match policy.client(b.client_id) {
        None => Client {
            client_id: b.client_id.to_owned(),
            secret_hash: b.secret_hash.to_owned(),
            grant_types: vec![GrantType::ClientCredentials],
            roles: vec![b.role.to_owned()],
            enabled: true,
        },
        Some(current) => {
            let mut client = current.clone();
            b.secret_hash.clone_into(&mut client.secret_hash);
            if !client.grant_types.contains(&GrantType::ClientCredentials) {
                client.grant_types.push(GrantType::ClientCredentials);
            }
            if !client.roles.iter().any(|r| r == b.role) {
                client.roles.push(b.role.to_owned());
            }
            client.enabled = true;
            client
        }
    };
    if policy.client(b.client_id) != Some(&wanted) {
        events.push(PolicyEvent::PutClient(wanted));
    }
    events
}

/// Makes the store hold the bootstrap administrator, if `[admin]` configures one.
pub async fn ensure(
    store: &PolicyStoreHandle,
    settings: &AdminSettings,
) -> Result<(), BootstrapError> {
    let Some(b) = configured(settings)? else {
        return Ok(());
    };
    let reader = store.reader();
    for attempt in 1..=ATTEMPTS {
        let policy = reader.current();
        let events = events(&policy, settings);
        if events.is_empty() {
            tracing::info!(
                client_id = b.client_id,
                role = b.role,
                "bootstrap administrator present"
            );
            return Ok(());
        }
        let count = events.len();
        match store.apply(events, Some(policy.version())).await {
            Ok(version) => {
                tracing::info!(
                    client_id = b.client_id,
                    role = b.role,
                    events = count,
                    version,
                    "bootstrap administrator set up"
                );
                return Ok(());
            }
            Err(StoreError::VersionConflict { .. }) if attempt < ATTEMPTS => {
                // Another node wrote first; wait for its change to arrive, then recompute.
                actix_web::rt::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(BootstrapError::Config(format!(
        "the policy kept changing while the bootstrap administrator was set up ({ATTEMPTS} \
         attempts)"
    )))
}

#[cfg(test)]
mod tests {
    use scopegate_core::PolicyDocument;

    use super::*;

    const HASH: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$c2NvcGVnYXRl$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    fn settings() -> AdminSettings {
        AdminSettings {
            bootstrap_client_id: Some("admin-cli".into()),
            bootstrap_client_secret_hash: Some(HASH.into()),
            ..AdminSettings::default()
        }
    }

    fn apply(policy: &Policy, events: &[PolicyEvent]) -> Policy {
        events
            .iter()
            .fold(policy.clone(), |p, e| p.apply(e).expect("valid event"))
    }

    #[test]
    fn adds_what_is_missing_then_nothing() {
        let empty = Policy::default();
        let first = events(&empty, &settings());
        assert_eq!(first.len(), 1 + INTERNAL_SCOPES.len() + 1);
        let policy = apply(&empty, &first);
        assert!(events(&policy, &settings()).is_empty(), "idempotent");
        let client = policy.client("admin-cli").expect("client");
        assert_eq!(client.roles, ["scopegate-admin"]);
        assert_eq!(
            policy.permitted_scopes(&client.roles).len(),
            INTERNAL_SCOPES.len()
        );
    }

    #[test]
    fn repairs_only_what_differs() {
        let doc = PolicyDocument {
            roles: vec![Role {
                name: "ops".into(),
                permissions: vec![],
                description: String::new(),
            }],
            scopes: vec![Scope {
                key: "internal_scope_view".into(),
                name: "mine".into(),
                description: String::new(),
                roles: vec!["ops".into()],
                permission: None,
            }],
            ..PolicyDocument::default()
        };
        let policy = Policy::from_document(1, doc).expect("valid");
        let policy = apply(&policy, &events(&policy, &settings()));
        let view = policy.scope("internal_scope_view").expect("scope");
        assert_eq!(view.name, "mine", "an existing scope keeps its text");
        assert_eq!(view.roles, ["ops", "scopegate-admin"]);
        // A new secret hash in the configuration replaces the client's, and only that.
        let mut rotated = settings();
        rotated.bootstrap_client_secret_hash = Some(format!("{HASH}B"));
        let again = events(&policy, &rotated);
        assert!(
            matches!(again.as_slice(), [PolicyEvent::PutClient(c)] if c.secret_hash.ends_with('B'))
        );
    }

    #[test]
    fn incomplete_configuration_is_an_error() {
        let mut s = settings();
        s.bootstrap_client_secret_hash = None;
        assert!(configured(&s).is_err());
        let mut s = settings();
        s.bootstrap_client_secret_hash = Some("plain".into());
        assert!(configured(&s).is_err());
        assert!(configured(&AdminSettings::default()).expect("ok").is_none());
    }
}
