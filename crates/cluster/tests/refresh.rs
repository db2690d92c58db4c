//! [`RedisRefreshStore`] against a real Redis: the embedded store's behaviour (rotation, reuse,
//! wrong client, expiry, refusal, family and subject revocation), plus what only a shared store
//! has to get right: two nodes rotating one token at once, TTLs instead of pruning, and an
//! unreachable Redis.
#![cfg(feature = "testing")]

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use scopegate_cluster::testing::{self, RedisServer};
use scopegate_cluster::{ClusterSettings, Names, Redis, RedisRefreshStore, SyncConn};
use scopegate_token_issuer::{
    RefreshRecord, RefreshStore, Revocation, Rotate, RotateOutcome, StoreError, TokenError,
    TokenHash,
};

/// Seconds since the epoch: records expire in Redis by the real clock.
fn now() -> u64 {
    scopegate_jwt::unix_now()
}

fn settings(server: &RedisServer) -> ClusterSettings {
    testing::settings(server.url())
}

/// A store ("node") with its own connection.
fn store(server: &RedisServer) -> RedisRefreshStore {
    let s = settings(server);
    let redis = Redis::open(&s).unwrap();
    RedisRefreshStore::new(SyncConn::new(redis), &s.names())
}

fn names() -> Names {
    Names::new("t", "t")
}

fn record(family: &str, expires_at: u64) -> RefreshRecord {
    RefreshRecord {
        family: family.to_owned(),
        subject: "alex".to_owned(),
        client_id: "app".to_owned(),
        scopes: vec!["item_view".to_owned(), "order_view".to_owned()],
        issued_at: now(),
        expires_at,
        rotated: false,
        family_expires_at: None,
    }
}

fn rotate(
    store: &mut RedisRefreshStore,
    presented: &TokenHash,
    replacement: &TokenHash,
    client_id: &str,
    at: u64,
) -> RotateOutcome {
    store
        .rotate(
            Rotate {
                presented,
                replacement,
                client_id,
                now: at,
                expires_at: at + 1000,
            },
            &mut |r: &RefreshRecord| Ok(r.scopes[..1].to_vec()),
        )
        .unwrap()
}

fn expiretime(conn: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("EXPIRETIME").arg(key).query(conn).unwrap()
}

#[test]
fn rotation_marks_the_old_token_and_stores_the_new_one_in_the_family() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let (t1, t2) = (TokenHash::of("t1"), TokenHash::of("t2"));
    let t = now();
    let issued = record("f", t + 1000);
    store.insert(&t1, &issued).unwrap();
    assert_eq!(store.get(&t1).unwrap(), Some(issued.clone()));
    let outcome = rotate(&mut store, &t1, &t2, "app", t + 5);
    assert_eq!(
        outcome,
        RotateOutcome::Rotated {
            record: issued.clone(),
            scopes: vec!["item_view".to_owned()],
        }
    );
    assert!(store.get(&t1).unwrap().unwrap().rotated);
    let new = store.get(&t2).unwrap().unwrap();
    assert_eq!(new.family, "f");
    assert_eq!(
        new.scopes, issued.scopes,
        "refresh token keeps original scopes"
    );
    assert_eq!(
        (new.issued_at, new.expires_at, new.rotated),
        (t + 5, t + 1005, false)
    );
}

#[test]
fn reuse_revokes_the_whole_family() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let (t1, t2, t3) = (
        TokenHash::of("t1"),
        TokenHash::of("t2"),
        TokenHash::of("t3"),
    );
    let other = TokenHash::of("other");
    let t = now();
    store.insert(&t1, &record("f", t + 1000)).unwrap();
    store.insert(&other, &record("g", t + 1000)).unwrap();
    assert!(matches!(
        rotate(&mut store, &t1, &t2, "app", t),
        RotateOutcome::Rotated { .. }
    ));
    // t1 presented again: reuse; t2 (the legitimate successor) dies with it.
    assert_eq!(
        rotate(&mut store, &t1, &t3, "app", t + 1),
        RotateOutcome::Reused {
            family: "f".to_owned()
        }
    );
    assert_eq!(store.get(&t2).unwrap(), None);
    assert_eq!(store.get(&t3).unwrap(), None);
    assert_eq!(
        rotate(&mut store, &t2, &t3, "app", t + 2),
        RotateOutcome::Unknown
    );
    assert_eq!(
        rotate(&mut store, &t1, &t3, "app", t + 2),
        RotateOutcome::Unknown
    );
    // Another family (same subject) is untouched, and the family set is gone.
    assert!(store.get(&other).unwrap().is_some());
    let mut conn = server.connection();
    let exists: bool = redis::cmd("EXISTS")
        .arg(format!("{}f", names().refresh_family_prefix))
        .query(&mut conn)
        .unwrap();
    assert!(!exists);
    let families: Vec<String> = redis::cmd("SMEMBERS")
        .arg(format!("{}alex", names().refresh_subject_prefix))
        .query(&mut conn)
        .unwrap();
    assert_eq!(families, ["g"]);
}

#[test]
fn wrong_client_and_expiry_change_nothing() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let (t1, t2) = (TokenHash::of("t1"), TokenHash::of("t2"));
    let t = now();
    store.insert(&t1, &record("f", t + 1000)).unwrap();
    assert_eq!(
        rotate(&mut store, &t1, &t2, "evil", t),
        RotateOutcome::WrongClient
    );
    // Expiry is judged by the caller's `now` (Redis would delete the record soon after).
    assert_eq!(
        rotate(&mut store, &t1, &t2, "app", t + 1000),
        RotateOutcome::Expired
    );
    assert!(!store.get(&t1).unwrap().unwrap().rotated);
    assert_eq!(store.get(&t2).unwrap(), None);
    assert!(matches!(
        rotate(&mut store, &t1, &t2, "app", t + 999),
        RotateOutcome::Rotated { .. }
    ));
}

#[test]
fn refused_decision_changes_nothing() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let (t1, t2) = (TokenHash::of("t1"), TokenHash::of("t2"));
    let t = now();
    store.insert(&t1, &record("f", t + 1000)).unwrap();
    let too_wide = TokenError::InvalidScope("too wide".into());
    let outcome = store
        .rotate(
            Rotate {
                presented: &t1,
                replacement: &t2,
                client_id: "app",
                now: t,
                expires_at: t + 1000,
            },
            &mut |_: &RefreshRecord| Err(too_wide.clone()),
        )
        .unwrap();
    assert_eq!(outcome, RotateOutcome::Refused(too_wide));
    assert!(!store.get(&t1).unwrap().unwrap().rotated);
    assert_eq!(store.get(&t2).unwrap(), None);
}

#[test]
fn unknown_tokens_are_unknown() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let (t1, t2) = (TokenHash::of("never"), TokenHash::of("t2"));
    assert_eq!(store.get(&t1).unwrap(), None);
    assert_eq!(
        rotate(&mut store, &t1, &t2, "app", now()),
        RotateOutcome::Unknown
    );
    assert_eq!(
        store.revoke_family(&t1, "app").unwrap(),
        Revocation::Unknown
    );
    assert_eq!(store.get(&t2).unwrap(), None);
}

#[test]
fn revoke_family_deletes_every_member_for_its_own_client_only() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let (t1, t2) = (TokenHash::of("t1"), TokenHash::of("t2"));
    let t = now();
    store.insert(&t1, &record("f", t + 1000)).unwrap();
    rotate(&mut store, &t1, &t2, "app", t);
    // Another client may not revoke it: nothing changes.
    assert_eq!(
        store.revoke_family(&t2, "other").unwrap(),
        Revocation::OtherClient
    );
    assert!(store.get(&t2).unwrap().is_some());
    assert_eq!(
        store.revoke_family(&t2, "app").unwrap(),
        Revocation::Revoked {
            family: "f".to_owned()
        }
    );
    assert_eq!(store.get(&t1).unwrap(), None);
    assert_eq!(store.get(&t2).unwrap(), None);
    assert_eq!(
        store.revoke_family(&t2, "app").unwrap(),
        Revocation::Unknown
    );
}

#[test]
fn revoke_subject_deletes_every_family_of_that_subject_only() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let t = now();
    let (a1, a2, b1, p1) = (
        TokenHash::of("a1"),
        TokenHash::of("a2"),
        TokenHash::of("b1"),
        TokenHash::of("p1"),
    );
    store.insert(&a1, &record("fa", t + 1000)).unwrap();
    rotate(&mut store, &a1, &a2, "app", t);
    let other_client = RefreshRecord {
        client_id: "other".to_owned(),
        ..record("fb", t + 1000)
    };
    store.insert(&b1, &other_client).unwrap();
    let paul = RefreshRecord {
        subject: "paul".to_owned(),
        ..record("fp", t + 1000)
    };
    store.insert(&p1, &paul).unwrap();

    assert_eq!(store.revoke_subject("alex").unwrap(), 2);
    for gone in [&a1, &a2, &b1] {
        assert_eq!(store.get(gone).unwrap(), None);
    }
    assert_eq!(store.get(&p1).unwrap(), Some(paul));
    assert_eq!(store.revoke_subject("alex").unwrap(), 0);
    assert_eq!(store.revoke_subject("nobody").unwrap(), 0);
    assert_eq!(
        rotate(&mut store, &a2, &a1, "app", t + 1),
        RotateOutcome::Unknown
    );
}

#[test]
fn records_expire_in_redis_and_their_sets_live_as_long_as_their_longest_member() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let mut conn = server.connection();
    let n = names();
    let t = now();
    let (t1, t2) = (TokenHash::of("t1"), TokenHash::of("t2"));
    store.insert(&t1, &record("f", t + 1000)).unwrap();
    let (token_key, family_key, subject_key) = (
        store.token_key(&t1),
        format!("{}f", n.refresh_family_prefix),
        format!("{}alex", n.refresh_subject_prefix),
    );
    assert_eq!(expiretime(&mut conn, &token_key), (t + 1000) as i64);
    assert_eq!(expiretime(&mut conn, &family_key), (t + 1000) as i64);
    assert_eq!(expiretime(&mut conn, &subject_key), (t + 1000) as i64);

    // The successor lives longer: the sets are extended, the rotated token keeps its expiry.
    rotate(&mut store, &t1, &t2, "app", t + 500);
    assert_eq!(expiretime(&mut conn, &token_key), (t + 1000) as i64);
    assert_eq!(
        expiretime(&mut conn, &store.token_key(&t2)),
        (t + 1500) as i64
    );
    assert_eq!(expiretime(&mut conn, &family_key), (t + 1500) as i64);
    assert_eq!(expiretime(&mut conn, &subject_key), (t + 1500) as i64);

    // A shorter-lived family does not shorten the subject set.
    let t3 = TokenHash::of("t3");
    store.insert(&t3, &record("g", t + 10)).unwrap();
    assert_eq!(expiretime(&mut conn, &subject_key), (t + 1500) as i64);

    // A record already expired is gone at once; pruning is Redis's job.
    let t4 = TokenHash::of("t4");
    store.insert(&t4, &record("h", t - 1)).unwrap();
    assert_eq!(store.get(&t4).unwrap(), None);
    assert_eq!(store.prune_expired(t + 2000).unwrap(), 0);
    assert!(store.get(&t2).unwrap().is_some());
}

#[test]
fn only_hashes_are_stored() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let token = "plain-refresh-token-value-xyz";
    let hash = TokenHash::of(token);
    store.insert(&hash, &record("f", now() + 1000)).unwrap();
    let mut conn = server.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    assert_eq!(keys.len(), 3, "{keys:?}");
    for key in &keys {
        assert!(!key.contains(token), "{key}");
        let dump: Vec<u8> = redis::cmd("DUMP").arg(key).query(&mut conn).unwrap();
        assert!(!dump.windows(token.len()).any(|w| w == token.as_bytes()));
    }
    let hex: String = hash.0.iter().map(|b| format!("{b:02x}")).collect();
    assert!(keys.contains(&format!("{}{hex}", names().refresh_prefix)));
    assert!(!format!("{store:?}").contains(&hex));
}

#[test]
fn two_nodes_rotating_one_token_at_once_one_wins_and_the_other_is_a_reuse() {
    let server = RedisServer::start();
    for round in 0..5 {
        let presented = TokenHash::of(&format!("t-{round}"));
        let t = now();
        store(&server)
            .insert(&presented, &record(&format!("f-{round}"), t + 1000))
            .unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let threads: Vec<_> = (0..2)
            .map(|node| {
                let mut store = store(&server);
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let replacement = TokenHash::of(&format!("t-{round}-{node}"));
                    barrier.wait();
                    let outcome = store
                        .rotate(
                            Rotate {
                                presented: &presented,
                                replacement: &replacement,
                                client_id: "app",
                                now: t,
                                expires_at: t + 1000,
                            },
                            // Both read before either writes: the race is certain.
                            &mut |r: &RefreshRecord| {
                                std::thread::sleep(Duration::from_millis(50));
                                Ok(r.scopes.clone())
                            },
                        )
                        .unwrap();
                    (outcome, replacement)
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let rotated = results
            .iter()
            .filter(|(o, _)| matches!(o, RotateOutcome::Rotated { .. }))
            .count();
        let reused = results
            .iter()
            .filter(|(o, _)| matches!(o, RotateOutcome::Reused { .. }))
            .count();
        assert_eq!((rotated, reused), (1, 1), "round {round}: {results:?}");
        // The reuse revoked the family: the winner's replacement is gone too.
        let check = store(&server);
        assert_eq!(check.get(&presented).unwrap(), None);
        for (_, replacement) in &results {
            assert_eq!(check.get(replacement).unwrap(), None);
        }
    }
}

#[test]
fn an_unreachable_redis_is_an_error_promptly_and_the_store_recovers() {
    let mut server = RedisServer::start();
    let mut store = store(&server);
    let (t1, t2) = (TokenHash::of("t1"), TokenHash::of("t2"));
    let t = now();
    store.insert(&t1, &record("f", t + 1000)).unwrap();

    server.kill();
    let started = Instant::now();
    let unavailable = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Unavailable(_)));
    assert!(unavailable(store.insert(&t2, &record("g", t + 1000))));
    assert!(unavailable(store.get(&t1).map(drop)));
    let rotated = store.rotate(
        Rotate {
            presented: &t1,
            replacement: &t2,
            client_id: "app",
            now: t,
            expires_at: t + 1000,
        },
        &mut |r: &RefreshRecord| Ok(r.scopes.clone()),
    );
    assert!(unavailable(rotated.map(drop)));
    assert!(unavailable(store.revoke_family(&t1, "app").map(drop)));
    assert!(unavailable(store.revoke_subject("alex").map(drop)));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Same data directory: what was acknowledged before is still there.
    server.restart();
    assert!(store.get(&t1).unwrap().is_some());
    assert!(matches!(
        rotate(&mut store, &t1, &t2, "app", t),
        RotateOutcome::Rotated { .. }
    ));
}

#[test]
fn rotation_never_extends_a_family_past_its_absolute_lifetime() {
    let server = RedisServer::start();
    let mut store = store(&server);
    let mut conn = server.connection();
    let t = now();
    let (t1, t2, t3) = (
        TokenHash::of("t1"),
        TokenHash::of("t2"),
        TokenHash::of("t3"),
    );
    let first = RefreshRecord {
        family_expires_at: Some(t + 100),
        ..record("f", t + 1000)
    };
    store.insert(&t1, &first).unwrap();
    // Rotated with a fresh lifetime of 1000 s: the successor still ends with the family, in
    // its record and in its Redis expiry.
    assert!(matches!(
        rotate(&mut store, &t1, &t2, "app", t),
        RotateOutcome::Rotated { .. }
    ));
    let successor = store.get(&t2).unwrap().unwrap();
    assert_eq!(successor.expires_at, t + 100);
    assert_eq!(successor.family_expires_at, Some(t + 100));
    assert_eq!(
        expiretime(&mut conn, &store.token_key(&t2)),
        (t + 100) as i64
    );
    // At the family's end the successor is expired: the sign-in is over.
    assert_eq!(
        rotate(&mut store, &t2, &t3, "app", t + 100),
        RotateOutcome::Expired
    );
}
