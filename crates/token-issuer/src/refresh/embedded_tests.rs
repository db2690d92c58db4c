use super::*;
use crate::error::TokenError;

fn record(family: &str, expires_at: u64) -> RefreshRecord {
    RefreshRecord {
        family: family.to_owned(),
        subject: "alex".to_owned(),
        client_id: "app".to_owned(),
        scopes: vec!["item_view".to_owned(), "order_view".to_owned()],
        issued_at: 100,
        expires_at,
        rotated: false,
        family_expires_at: None,
    }
}

fn open() -> (tempfile::TempDir, EmbeddedRefreshStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedRefreshStore::open(&dir.path().join("data")).unwrap();
    (dir, store)
}

fn rotate(
    store: &mut EmbeddedRefreshStore,
    presented: &TokenHash,
    replacement: &TokenHash,
    client_id: &str,
    now: u64,
) -> RotateOutcome {
    store
        .rotate(
            Rotate {
                presented,
                replacement,
                client_id,
                now,
                expires_at: now + 1000,
            },
            &mut |r: &RefreshRecord| Ok(r.scopes[..1].to_vec()),
        )
        .unwrap()
}

#[test]
fn rotation_marks_the_old_token_and_stores_the_new_one_in_the_family() {
    let (_dir, mut store) = open();
    let (t1, t2) = (TokenHash::of("t1"), TokenHash::of("t2"));
    store.insert(&t1, &record("f", 1000)).unwrap();
    let outcome = rotate(&mut store, &t1, &t2, "app", 500);
    assert_eq!(
        outcome,
        RotateOutcome::Rotated {
            record: record("f", 1000),
            scopes: vec!["item_view".to_owned()],
        }
    );
    assert!(store.get(&t1).unwrap().unwrap().rotated);
    let new = store.get(&t2).unwrap().unwrap();
    assert_eq!(new.family, "f");
    assert_eq!(
        new.scopes,
        record("f", 0).scopes,
        "refresh token keeps original scopes"
    );
    assert_eq!(
        (new.issued_at, new.expires_at, new.rotated),
        (500, 1500, false)
    );
}

#[test]
fn reuse_revokes_the_whole_family() {
    let (_dir, mut store) = open();
    let (t1, t2, t3) = (
        TokenHash::of("t1"),
        TokenHash::of("t2"),
        TokenHash::of("t3"),
    );
    let other = TokenHash::of("other");
    store.insert(&t1, &record("f", 1000)).unwrap();
    store.insert(&other, &record("g", 1000)).unwrap();
    assert!(matches!(
        rotate(&mut store, &t1, &t2, "app", 10),
        RotateOutcome::Rotated { .. }
    ));
    // t1 presented again: reuse; t2 (the legitimate successor) dies with it.
    assert_eq!(
        rotate(&mut store, &t1, &t3, "app", 11),
        RotateOutcome::Reused {
            family: "f".to_owned()
        }
    );
    assert_eq!(store.get(&t2).unwrap(), None);
    assert_eq!(store.get(&t3).unwrap(), None);
    assert_eq!(
        rotate(&mut store, &t2, &t3, "app", 12),
        RotateOutcome::Unknown
    );
    assert_eq!(
        rotate(&mut store, &t1, &t3, "app", 12),
        RotateOutcome::Unknown
    );
    // Another family is untouched.
    assert!(store.get(&other).unwrap().is_some());
}

#[test]
fn wrong_client_and_expiry_change_nothing() {
    let (_dir, mut store) = open();
    let (t1, t2) = (TokenHash::of("t1"), TokenHash::of("t2"));
    store.insert(&t1, &record("f", 1000)).unwrap();
    assert_eq!(
        rotate(&mut store, &t1, &t2, "evil", 10),
        RotateOutcome::WrongClient
    );
    assert_eq!(
        rotate(&mut store, &t1, &t2, "app", 1000),
        RotateOutcome::Expired
    );
    let stored = store.get(&t1).unwrap().unwrap();
    assert!(!stored.rotated);
    assert_eq!(store.get(&t2).unwrap(), None);
    assert!(matches!(
        rotate(&mut store, &t1, &t2, "app", 999),
        RotateOutcome::Rotated { .. }
    ));
}

#[test]
fn refused_decision_changes_nothing() {
    let (_dir, mut store) = open();
    let (t1, t2) = (TokenHash::of("t1"), TokenHash::of("t2"));
    store.insert(&t1, &record("f", 1000)).unwrap();
    let outcome = store
        .rotate(
            Rotate {
                presented: &t1,
                replacement: &t2,
                client_id: "app",
                now: 1,
                expires_at: 2,
            },
            &mut |_: &RefreshRecord| Err(TokenError::scope("too wide")),
        )
        .unwrap();
    assert_eq!(
        outcome,
        RotateOutcome::Refused(TokenError::scope("too wide"))
    );
    assert!(!store.get(&t1).unwrap().unwrap().rotated);
    assert_eq!(store.get(&t2).unwrap(), None);
}

#[test]
fn revoke_family_deletes_every_member() {
    let (_dir, mut store) = open();
    let (t1, t2) = (TokenHash::of("t1"), TokenHash::of("t2"));
    store.insert(&t1, &record("f", 1000)).unwrap();
    rotate(&mut store, &t1, &t2, "app", 10);
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
    let (_dir, mut store) = open();
    let (a1, a2, b1, p1) = (
        TokenHash::of("a1"),
        TokenHash::of("a2"),
        TokenHash::of("b1"),
        TokenHash::of("p1"),
    );
    store.insert(&a1, &record("fa", 1000)).unwrap();
    rotate(&mut store, &a1, &a2, "app", 10);
    let other_client = RefreshRecord {
        client_id: "other".to_owned(),
        ..record("fb", 1000)
    };
    store.insert(&b1, &other_client).unwrap();
    let paul = RefreshRecord {
        subject: "paul".to_owned(),
        ..record("fp", 1000)
    };
    store.insert(&p1, &paul).unwrap();

    assert_eq!(store.revoke_subject("alex").unwrap(), 2);
    for gone in [&a1, &a2, &b1] {
        assert_eq!(store.get(gone).unwrap(), None);
    }
    assert_eq!(store.get(&p1).unwrap(), Some(paul));
    assert_eq!(store.revoke_subject("alex").unwrap(), 0);
    assert_eq!(
        rotate(&mut store, &a2, &a1, "app", 11),
        RotateOutcome::Unknown
    );
    // The indexes went too: nothing is left to prune or to revoke by family.
    assert_eq!(store.prune_expired(5000).unwrap(), 1);
}

#[test]
fn prune_removes_exactly_the_expired_tokens() {
    let (_dir, mut store) = open();
    let (a, b, c) = (TokenHash::of("a"), TokenHash::of("b"), TokenHash::of("c"));
    store.insert(&a, &record("f", 100)).unwrap();
    store.insert(&b, &record("f", 200)).unwrap();
    store.insert(&c, &record("g", 201)).unwrap();
    assert_eq!(store.prune_expired(99).unwrap(), 0);
    assert_eq!(store.prune_expired(200).unwrap(), 2);
    assert_eq!(store.get(&a).unwrap(), None);
    assert_eq!(store.get(&b).unwrap(), None);
    assert!(store.get(&c).unwrap().is_some());
    // Index entries went too: revoking family f finds nothing left, and pruning is idempotent.
    assert_eq!(store.prune_expired(200).unwrap(), 0);
    assert_eq!(store.prune_expired(201).unwrap(), 1);
}

#[test]
fn tokens_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let t1 = TokenHash::of("t1");
    {
        let mut store = EmbeddedRefreshStore::open(dir.path()).unwrap();
        store.insert(&t1, &record("f", 1000)).unwrap();
    }
    assert!(dir.path().join("refresh.redb").exists());
    let store = EmbeddedRefreshStore::open(dir.path()).unwrap();
    assert_eq!(store.get(&t1).unwrap(), Some(record("f", 1000)));
}

#[test]
fn only_the_hash_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let token = "plain-refresh-token-value-xyz";
    {
        let mut store = EmbeddedRefreshStore::open(dir.path()).unwrap();
        store
            .insert(&TokenHash::of(token), &record("f", 1000))
            .unwrap();
    }
    let bytes = std::fs::read(dir.path().join("refresh.redb")).unwrap();
    assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()));
    assert!(!format!("{:?}", TokenHash::of(token)).contains(token));
}

#[test]
fn rotation_never_extends_a_family_past_its_absolute_lifetime() {
    let (_dir, mut store) = open();
    let (t1, t2, t3) = (
        TokenHash::of("t1"),
        TokenHash::of("t2"),
        TokenHash::of("t3"),
    );
    let first = RefreshRecord {
        family_expires_at: Some(600),
        ..record("f", 1000)
    };
    store.insert(&t1, &first).unwrap();
    // Rotated at 500 with a fresh lifetime of 1000 s: the successor still ends with the family.
    assert!(matches!(
        rotate(&mut store, &t1, &t2, "app", 500),
        RotateOutcome::Rotated { .. }
    ));
    let successor = store.get(&t2).unwrap().unwrap();
    assert_eq!(successor.expires_at, 600);
    assert_eq!(successor.family_expires_at, Some(600));
    // At the family's end the successor is expired: the sign-in is over.
    assert_eq!(
        rotate(&mut store, &t2, &t3, "app", 600),
        RotateOutcome::Expired
    );
}
