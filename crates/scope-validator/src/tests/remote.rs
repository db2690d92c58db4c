//! What other nodes do, seen from one validator: events applied without a store write
//! (`apply_remote`), reloads merged into the snapshot (`resync`), and retries of a reload that
//! failed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::*;
use crate::{RevocationEvent, RevocationStore, Revocations, StoreError, SubjectRevocation};

const PATH: &str = "/shopping/1.0.0/orders";

/// What an in-memory store shared by several validators holds.
#[derive(Default)]
struct Memory {
    tokens: HashMap<String, u64>,
    subjects: HashMap<String, SubjectRevocation>,
    /// Loads that fail before one succeeds again.
    failing_loads: usize,
    /// Loads attempted.
    loads: usize,
}

/// A store in memory, shared like a Redis every node reaches.
#[derive(Clone, Default)]
struct SharedStore(Arc<Mutex<Memory>>);

impl RevocationStore for SharedStore {
    fn load(&mut self, now: u64) -> Result<Revocations, StoreError> {
        let mut memory = self.0.lock().unwrap();
        memory.loads += 1;
        if memory.failing_loads > 0 {
            memory.failing_loads -= 1;
            return Err(StoreError::Unavailable("connection refused".into()));
        }
        Ok(Revocations {
            tokens: (memory.tokens.iter())
                .filter(|(_, exp)| **exp >= now)
                .map(|(jti, exp)| (jti.clone(), *exp))
                .collect(),
            subjects: (memory.subjects.iter())
                .filter(|(_, r)| r.keep_until >= now)
                .map(|(s, r)| (s.clone(), *r))
                .collect(),
        })
    }
    fn insert(&mut self, jti: &str, exp: u64) -> Result<(), StoreError> {
        let mut memory = self.0.lock().unwrap();
        let entry = memory.tokens.entry(jti.to_owned()).or_insert(exp);
        *entry = (*entry).max(exp);
        Ok(())
    }
    fn insert_subject(&mut self, subject: &str, before: u64, keep: u64) -> Result<(), StoreError> {
        let new = SubjectRevocation {
            before,
            keep_until: keep,
        };
        let mut memory = self.0.lock().unwrap();
        let entry = memory.subjects.entry(subject.to_owned()).or_insert(new);
        *entry = entry.merge(new);
        Ok(())
    }
    fn prune(&mut self, _: u64) -> Result<usize, StoreError> {
        Ok(0)
    }
}

/// A validator ("node") over `store`, verifying with `keys`, its clock at T0 (resync reloads
/// what is needed at the actor's `now`).
fn node(store: &SharedStore, keys: &Arc<ArcSwap<KeySet>>) -> ScopeValidator {
    let config = ValidatorConfig {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        settings: ValidatorSettings::default(),
    };
    let store = Box::new(store.clone());
    let clock = Arc::new(|| T0);
    ScopeValidator::start_with_clock(config, quickstart(), Arc::clone(keys), store, clock).unwrap()
}

/// Polls `done` every 5 ms for up to 5 s.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        actix::clock::sleep(Duration::from_millis(5)).await;
    }
}

fn refused(validator: &ScopeValidator, token: &str) -> bool {
    matches!(
        validator.decide(Some(token), "POST", PATH, T0),
        Decision::Deny(deny) if deny.description.contains("revoked")
    )
}

#[actix::test]
async fn a_remote_event_is_published_without_a_store_write() {
    let h = Harness::start(); // for its key and claims
    let store = SharedStore::default();
    let validator = node(&store, &h.keys);
    let claims = h.claims("paul", "order_add");
    let token = h.key.sign(&claims).unwrap();
    let other = h.token("rick", "order_add");
    allowed(validator.decide(Some(&token), "POST", PATH, T0));
    allowed(validator.decide(Some(&other), "POST", PATH, T0));

    validator.apply_remote(RevocationEvent::Token {
        jti: claims.jti.clone(),
        exp: claims.exp,
    });
    eventually("the cached token is refused", || {
        refused(&validator, &token)
    })
    .await;
    validator.apply_remote(RevocationEvent::Subject {
        subject: "rick".into(),
        before: T0,
        keep_until: T0 + TTL + 30,
    });
    eventually("rick's token is refused", || refused(&validator, &other)).await;
    assert_eq!(validator.revoked_len(), 2);
    let memory = store.0.lock().unwrap();
    assert!(memory.tokens.is_empty() && memory.subjects.is_empty());
}

#[actix::test]
async fn resync_merges_what_other_nodes_stored() {
    let h = Harness::start();
    let store = SharedStore::default();
    let (a, b) = (node(&store, &h.keys), node(&store, &h.keys));
    let claims = h.claims("paul", "order_add");
    let token = h.key.sign(&claims).unwrap();
    let alex = h.token("alex", "order_add");
    allowed(b.decide(Some(&token), "POST", PATH, T0));

    a.revoke(claims.jti.clone(), claims.exp).await.unwrap();
    a.revoke_subject("alex".into(), T0, T0 + TTL + 30)
        .await
        .unwrap();
    // Nothing told b (no listener here): it still accepts, until it reloads.
    allowed(b.decide(Some(&token), "POST", PATH, T0));
    b.resync();
    eventually("b refuses the revoked token", || refused(&b, &token)).await;
    assert!(refused(&b, &alex));
    assert_eq!(b.resync_now().await.unwrap(), 0, "a union: nothing new");
    assert_eq!(b.revoked_len(), 2);
}

#[actix::test]
async fn a_failed_resync_is_retried_until_a_reload_succeeds() {
    let h = Harness::start();
    let store = SharedStore::default();
    let (a, b) = (node(&store, &h.keys), node(&store, &h.keys));
    let claims = h.claims("paul", "order_add");
    let token = h.key.sign(&claims).unwrap();
    a.revoke(claims.jti.clone(), claims.exp).await.unwrap();

    store.0.lock().unwrap().failing_loads = 3;
    let loads = store.0.lock().unwrap().loads;
    assert!(b.resync_now().await.is_err());
    // Two more failing requests while a retry is scheduled add no retries of their own.
    b.resync();
    b.resync();
    eventually("the retry succeeds", || refused(&b, &token)).await;
    actix::clock::sleep(Duration::from_millis(400)).await;
    // Three failed requests, then one retry that succeeded; nothing reloads after that.
    assert_eq!(store.0.lock().unwrap().loads - loads, 4);
}
