//! The JWKS cache against a real issuer: rotation, the refetch rate limit, an issuer that is
//! down or answers garbage, background refresh, and a lazy start.

use std::time::{Duration, Instant};

use actix_web::rt::time::sleep;
use futures_util::future::join_all;
use scopegate_edge::{EdgeError, JwksCache, JwksConfig};
use scopegate_jwt::VerifyError;

use crate::helpers::*;

#[actix_web::test]
async fn a_rotated_key_is_fetched_once_on_first_use() {
    let old = key();
    let (issuer, keys, url) = shop_with_issuer(&old).await;
    assert_eq!(issuer.fetches(), 1);
    assert_eq!(keys.kids(), [old.kid()]);
    sleep(Duration::from_millis(250)).await; // past min_refetch_interval

    let new = key();
    issuer.publish(&[&new, &old]);
    let client = reqwest::Client::new();
    for user in ["paul", "harry", "paul"] {
        let response = client
            .post(format!("{url}/orders"))
            .bearer_auth(token(&new, user, "order_add"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::CREATED, "{user}");
    }
    assert_eq!(
        issuer.fetches(),
        2,
        "one refetch for the new kid, then cached"
    );
    assert_eq!(keys.kids(), [new.kid(), old.kid()]);
    assert!(
        keys.verify(&token(&old, "rick", "order_view"))
            .await
            .is_ok()
    );
}

#[actix_web::test]
async fn unknown_kids_refetch_at_most_once_per_interval() {
    let signing = key();
    let issuer = Issuer::start(&[&signing]).await;
    let config = JwksConfig {
        min_refetch_interval: Duration::from_secs(1),
        ..issuer.config()
    };
    let keys = JwksCache::connect(config).await.unwrap();
    sleep(Duration::from_millis(1100)).await;

    let started = Instant::now();
    let strangers: Vec<String> = (0..20).map(|_| token(&key(), "mallory", "x")).collect();
    let burst = join_all(strangers.iter().map(|t| keys.verify(t))).await;
    assert!(burst.iter().all(|r| *r == Err(VerifyError::UnknownKey)));
    assert_eq!(issuer.fetches(), 2, "concurrent askers share one fetch");
    for stranger in &strangers {
        assert_eq!(keys.verify(stranger).await, Err(VerifyError::UnknownKey));
    }
    let refetches = issuer.fetches() - 1;
    let allowed = 1 + started.elapsed().as_secs() as usize;
    assert!(
        (1..=allowed).contains(&refetches),
        "{refetches} refetches in {:?}",
        started.elapsed()
    );
    assert!(
        keys.verify(&token(&signing, "paul", "order_add"))
            .await
            .is_ok()
    );
}

#[actix_web::test]
async fn a_down_or_garbled_issuer_leaves_the_last_good_set_in_place() {
    let signing = key();
    let issuer = Issuer::start(&[&signing]).await;
    let config = JwksConfig {
        refresh_interval: Duration::from_millis(100),
        min_refetch_interval: Duration::from_millis(50),
        ..issuer.config()
    };
    let keys = JwksCache::connect(config).await.unwrap();
    let paul = token(&signing, "paul", "order_add");

    for answer in [Answer::Status(500), Answer::Garbage, Answer::Status(404)] {
        issuer.answer(answer);
        let before = issuer.fetches();
        eventually("failed refreshes", || issuer.fetches() >= before + 2).await;
        assert!(keys.verify(&paul).await.is_ok());
        assert_eq!(keys.kids(), [signing.kid()]);
        let stranger = token(&key(), "mallory", "x");
        assert_eq!(keys.verify(&stranger).await, Err(VerifyError::UnknownKey));
    }
    let empty: [&scopegate_jwt::SigningKey; 0] = [];
    issuer.publish(&empty);
    let before = issuer.fetches();
    eventually("an empty set to be fetched", || {
        issuer.fetches() >= before + 2
    })
    .await;
    assert!(
        keys.verify(&paul).await.is_ok(),
        "an empty set is no replacement"
    );

    let next = key();
    issuer.publish(&[&next]);
    eventually("recovery", || keys.kids() == [next.kid()]).await;
    assert_eq!(keys.verify(&paul).await, Err(VerifyError::UnknownKey));
    assert!(
        keys.verify(&token(&next, "paul", "order_add"))
            .await
            .is_ok()
    );
}

#[actix_web::test]
async fn background_refresh_picks_up_a_new_key_before_it_is_used() {
    let signing = key();
    let issuer = Issuer::start(&[&signing]).await;
    let config = JwksConfig {
        refresh_interval: Duration::from_millis(200),
        min_refetch_interval: Duration::from_secs(3600),
        ..issuer.config()
    };
    let keys = JwksCache::connect(config).await.unwrap();
    let next = key();
    issuer.publish(&[&next, &signing]);
    eventually("the new key", || {
        keys.kids().contains(&next.kid().to_owned())
    })
    .await;
    let fetches = issuer.fetches();
    assert!(
        keys.verify(&token(&next, "paul", "order_add"))
            .await
            .is_ok()
    );
    assert!(issuer.fetches() <= fetches + 1, "no refetch was needed");
}

#[actix_web::test]
async fn a_lazy_start_heals_once_the_issuer_answers() {
    let signing = key();
    let issuer = Issuer::start(&[&signing]).await;
    issuer.answer(Answer::Status(503));
    let keys = JwksCache::start(issuer.config()).unwrap();
    let paul = token(&signing, "paul", "order_add");
    eventually("a first attempt", || issuer.fetches() >= 1).await;
    assert_eq!(keys.verify(&paul).await, Err(VerifyError::UnknownKey));
    assert!(keys.kids().is_empty());

    issuer.publish(&[&signing]);
    eventually("the keys", || !keys.kids().is_empty()).await;
    assert!(keys.verify(&paul).await.is_ok());
}

#[actix_web::test]
async fn connect_fails_clearly_when_no_usable_set_comes_back() {
    let signing = key();
    let issuer = Issuer::start(&[&signing]).await;
    issuer.answer(Answer::Status(500));
    let err = JwksCache::connect(issuer.config()).await.unwrap_err();
    assert!(
        matches!(err, EdgeError::JwksStatus { status: 500, .. }),
        "{err}"
    );

    issuer.answer(Answer::Garbage);
    let err = JwksCache::connect(issuer.config()).await.unwrap_err();
    assert!(matches!(err, EdgeError::JwksInvalid { .. }), "{err}");
    assert!(err.to_string().contains(&issuer.jwks_url), "{err}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let config = JwksConfig {
        jwks_url: format!("http://127.0.0.1:{port}/oauth2/jwks"),
        ..issuer.config()
    };
    let err = JwksCache::connect(config).await.unwrap_err();
    assert!(matches!(err, EdgeError::JwksFetch { .. }), "{err}");
}

#[test]
fn the_cache_needs_a_runtime() {
    let err = JwksCache::start(JwksConfig::new("http://127.0.0.1:1")).unwrap_err();
    assert!(matches!(err, EdgeError::NoRuntime), "{err}");
}
