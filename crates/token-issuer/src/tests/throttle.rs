//! The sign-in throttle through [`TokenService::token`]: lockouts per username and per client
//! and address, refused before any argon2 work, expiring, cleared by an administrator; and
//! one argon2 run for concurrent requests presenting the same client secret.

use std::net::IpAddr;

use crate::{ThrottleConfig, ThrottleKey, ThrottleKind};

use super::*;

fn throttled(user_failures: u32, source_failures: u32) -> IssuerConfig {
    IssuerConfig {
        throttle: ThrottleConfig {
            enabled: true,
            user_failures,
            source_failures,
            window_secs: 60,
            lockout_secs: 30,
            max_lockout_secs: 600,
        },
        ..IssuerConfig::default()
    }
}

fn wrong(user: &str) -> String {
    format!(
        "grant_type=password&username={user}&password=wrong\
         &client_id=shopping-app&client_secret=shopping-secret"
    )
}

async fn from(h: &Harness, body: &str, address: &str) -> Result<TokenResponse, TokenError> {
    let address: IpAddr = address.parse().unwrap();
    let request = TokenRequest::parse(body.as_bytes(), None)?.with_source(Some(address));
    h.service.token(request).await
}

#[actix::test]
async fn a_guessed_username_locks_and_the_right_password_waits_for_the_lock_to_end() {
    let h = Harness::start(cheap_quickstart(), throttled(3, 0));
    for _ in 0..3 {
        let err = h.token(&wrong("alex")).await.unwrap_err();
        assert_eq!(err.description(), "invalid username or password");
    }
    let verified = h.service.hash_verifications();
    // Locked: the right password is refused, before any argon2 work (the client's secret is
    // cached, the password never reaches the pool).
    let err = h.token(&password_body("alex", "")).await.unwrap_err();
    assert_eq!((err.code(), err.status()), ("invalid_grant", 400));
    assert_eq!(err.outcome(), "throttled");
    assert_eq!(err.retry_after(), Some(30));
    assert!(
        err.description().contains("retry after 30 seconds"),
        "{err}"
    );
    for _ in 0..50 {
        assert!(h.token(&wrong("alex")).await.is_err());
    }
    assert_eq!(
        h.service.hash_verifications(),
        verified,
        "no argon2 while locked"
    );
    assert_eq!(h.service.throttled_attempts(ThrottleKind::User), 51);
    assert_eq!(h.service.lockouts_started(ThrottleKind::User), 1);
    // Other users are not affected.
    assert!(h.token(&password_body("paul", "")).await.is_ok());
    // The lock ends.
    h.set_now(T0 + 30);
    assert!(h.token(&password_body("alex", "")).await.is_ok());
}

#[actix::test]
async fn unknown_usernames_lock_exactly_like_known_ones() {
    let h = Harness::start(cheap_quickstart(), throttled(3, 0));
    for user in ["alex", "nobody"] {
        let mut answers = Vec::new();
        for _ in 0..4 {
            let err = h.token(&wrong(user)).await.unwrap_err();
            answers.push((err.code(), err.outcome(), err.description().to_owned()));
        }
        assert_eq!(answers[0].1, "invalid_grant");
        assert_eq!(answers[3].1, "throttled", "{user}: {answers:?}");
        if user == "nobody" {
            let alex: Vec<_> = h.service.lockouts().await;
            assert_eq!(alex.len(), 2, "both names are locked");
        }
    }
}

#[actix::test]
async fn spraying_many_usernames_from_one_address_locks_that_client_and_address() {
    let h = Harness::start(cheap_quickstart(), throttled(0, 4));
    for i in 0..4 {
        let err = from(&h, &wrong(&format!("user{i}")), "203.0.113.7")
            .await
            .unwrap_err();
        assert_eq!(err.outcome(), "invalid_grant");
    }
    // Locked from that address, whichever user, even with the right password...
    let err = from(&h, &password_body("alex", ""), "203.0.113.7")
        .await
        .unwrap_err();
    assert_eq!(err.outcome(), "throttled");
    // ... and any guess at the client's secret from there, answered as a client-authentication
    // failure before argon2. (A secret already proven and cached is no guess: it still gets a
    // client_credentials token, and the hot path never asks the throttle.)
    let verified = h.service.hash_verifications();
    let guess = cc_body("shopping-app", "guessed-secret", "");
    let err = from(&h, &guess, "203.0.113.7").await.unwrap_err();
    assert_eq!(
        (err.code(), err.status(), err.outcome()),
        ("invalid_client", 401, "throttled")
    );
    assert_eq!(h.service.hash_verifications(), verified);
    let cc = cc_body("shopping-app", "shopping-secret", "");
    assert!(from(&h, &cc, "203.0.113.7").await.is_ok());
    // Another address, or another client from that address, is not.
    assert!(
        from(&h, &password_body("alex", ""), "203.0.113.8")
            .await
            .is_ok()
    );
    let inventory = cc_body("inventory-service", "inventory-secret", "");
    assert!(from(&h, &inventory, "203.0.113.7").await.is_ok());
    assert_eq!(h.service.throttled_attempts(ThrottleKind::Source), 2);
}

#[actix::test]
async fn failed_client_authentications_count_against_the_address() {
    let h = Harness::start(cheap_quickstart(), throttled(0, 3));
    let bad = cc_body("inventory-service", "guess", "");
    for _ in 0..3 {
        let err = from(&h, &bad, "198.51.100.1").await.unwrap_err();
        assert_eq!(err.outcome(), "invalid_client");
    }
    let good = cc_body("inventory-service", "inventory-secret", "");
    let err = from(&h, &good, "198.51.100.1").await.unwrap_err();
    assert_eq!(err.outcome(), "throttled");
    h.set_now(T0 + 31);
    assert!(from(&h, &good, "198.51.100.1").await.is_ok());
}

#[actix::test]
async fn an_administrator_clears_a_lockout_and_its_budget() {
    let h = Harness::start(cheap_quickstart(), throttled(3, 0));
    for _ in 0..3 {
        let _ = h.token(&wrong("alex")).await;
    }
    let lockouts = h.service.lockouts().await;
    let alex = ThrottleKey::User {
        username: "alex".into(),
    };
    assert_eq!(lockouts.len(), 1);
    assert_eq!((&lockouts[0].key, lockouts[0].until), (&alex, T0 + 30));
    assert!(h.service.clear_lockout(&alex).await.unwrap());
    assert!(h.service.lockouts().await.is_empty());
    assert!(h.token(&password_body("alex", "")).await.is_ok());
    // A fresh budget: two more failures are tolerated.
    for _ in 0..2 {
        assert_eq!(
            h.token(&wrong("alex")).await.unwrap_err().outcome(),
            "invalid_grant"
        );
    }
    assert!(!h.service.clear_lockout(&alex).await.unwrap(), "not locked");
}

#[actix::test]
async fn repeated_lockouts_grow_longer() {
    let h = Harness::start(cheap_quickstart(), throttled(3, 0));
    let mut lengths = Vec::new();
    let mut now = T0;
    for _ in 0..3 {
        h.set_now(now);
        while h.token(&wrong("alex")).await.unwrap_err().outcome() != "throttled" {}
        let until = h.service.lockouts().await[0].until;
        lengths.push(until - now);
        now = until;
    }
    assert_eq!(lengths, [30, 60, 120]);
}

#[actix::test]
async fn a_throttle_that_is_off_never_locks() {
    let config = IssuerConfig {
        throttle: ThrottleConfig {
            enabled: false,
            ..ThrottleConfig::default()
        },
        ..IssuerConfig::default()
    };
    let h = Harness::start(cheap_quickstart(), config);
    for _ in 0..20 {
        assert_eq!(
            h.token(&wrong("alex")).await.unwrap_err().outcome(),
            "invalid_grant"
        );
    }
    assert!(h.token(&password_body("alex", "")).await.is_ok());
}

#[actix::test]
async fn concurrent_first_requests_of_one_client_share_one_argon2_run() {
    // The real (default-cost) hash, so the first verification is still running when the
    // other requests arrive.
    let mut doc = cheap_quickstart();
    let real = quickstart();
    doc.clients[1].secret_hash = real.clients[1].secret_hash.clone();
    assert_eq!(doc.clients[1].client_id, "inventory-service");
    let h = Harness::start(doc, IssuerConfig::default());
    let body = cc_body("inventory-service", "inventory-secret", "order_view");
    let requests = (0..32).map(|_| h.token(&body));
    let answers = futures_util::future::join_all(requests).await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    assert_eq!(h.service.hash_verifications(), 1);
    // A wrong secret presented concurrently is not answered by the right one's run.
    let wrong_body = cc_body("inventory-service", "not-the-secret", "order_view");
    let mixed = futures_util::future::join(h.token(&wrong_body), h.token(&body)).await;
    assert_eq!(mixed.0.unwrap_err().code(), "invalid_client");
    assert!(mixed.1.is_ok());
}

/// A shared throttle store that only counts how often it is asked.
#[derive(Default)]
struct Counting(std::sync::atomic::AtomicUsize);

impl crate::ThrottleStore for Counting {
    fn locked<'a>(
        &'a self,
        _: &'a [ThrottleKey],
        _: u64,
    ) -> futures_util::future::BoxFuture<
        'a,
        Result<Option<crate::Lockout>, crate::ThrottleUnavailable>,
    > {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(std::future::ready(Ok(None)))
    }
    fn record_failure<'a>(
        &'a self,
        _: &'a [ThrottleKey],
        _: u64,
    ) -> futures_util::future::BoxFuture<'a, Result<Vec<crate::Lockout>, crate::ThrottleUnavailable>>
    {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(std::future::ready(Ok(Vec::new())))
    }
    fn record_success<'a>(
        &'a self,
        _: &'a ThrottleKey,
    ) -> futures_util::future::BoxFuture<'a, Result<(), crate::ThrottleUnavailable>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(std::future::ready(Ok(())))
    }
    fn clear<'a>(
        &'a self,
        _: &'a ThrottleKey,
        _: u64,
    ) -> futures_util::future::BoxFuture<'a, Result<bool, crate::ThrottleUnavailable>> {
        Box::pin(std::future::ready(Ok(false)))
    }
    fn lockouts(
        &self,
        _: u64,
    ) -> futures_util::future::BoxFuture<'_, Result<Vec<crate::Lockout>, crate::ThrottleUnavailable>>
    {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }
}

#[actix::test]
async fn cached_client_credentials_never_ask_the_shared_throttle() {
    let shared = Arc::new(Counting::default());
    let policy = PolicyReader::fixed(Policy::from_document(1, cheap_quickstart()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedRefreshStore::open(dir.path()).unwrap();
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let keys = Arc::new(ArcSwap::from_pointee(KeySet::new(key)));
    let links = crate::Links {
        families: Arc::new(RecordedFamilies::default()),
        throttle: Some(Arc::clone(&shared) as Arc<dyn crate::ThrottleStore>),
    };
    let service = TokenService::start(
        IssuerConfig::default(),
        policy,
        keys,
        Box::new(store),
        links,
    )
    .unwrap();
    let body = cc_body("inventory-service", "inventory-secret", "order_view");
    let request = || {
        TokenRequest::parse(body.as_bytes(), None)
            .unwrap()
            .with_source(Some("198.51.100.9".parse().unwrap()))
    };
    // The first request verifies the secret: it asks the throttle once.
    service.token(request()).await.unwrap();
    assert_eq!(shared.0.load(Ordering::SeqCst), 1);
    // Cached from then on: no call at all (in a cluster, no Redis round trip).
    for _ in 0..20 {
        service.token(request()).await.unwrap();
    }
    assert_eq!(shared.0.load(Ordering::SeqCst), 1);
}
