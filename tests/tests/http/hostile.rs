//! Hostile input at every OAuth and check endpoint: each error answer's `error_description`
//! (and challenge) keeps to RFC 6749 §5.2's characters (%x20-21 / %x23-5B / %x5D-7E) and never
//! echoes what the client sent.

use reqwest::RequestBuilder;
use scopegate_tests::{TestApp, basic, spawn_app};
use serde_json::{Value, json};

/// Sent inside every hostile value: quotes, a backslash, a line break, non-ASCII and a word
/// that must never come back.
const MARK: &str = "zqx\"\\\n\u{e9}\u{1f600}";

/// The inputs each parameter gets.
fn hostile() -> Vec<String> {
    vec![
        MARK.to_owned(),
        format!("{MARK}{}", "A".repeat(300)),
        format!("\u{0}{MARK}"),
        format!("%00{MARK}%0d%0a"),
        format!("<script>{MARK}</script>"),
    ]
}

fn allowed(c: char) -> bool {
    matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')
}

/// Sends `request`; if the answer is an error with a description, checks it and the challenge.
/// Returns whether it was an error answer.
async fn probe(request: RequestBuilder, what: &str) -> bool {
    let resp = request.send().await.expect("request");
    let status = resp.status().as_u16();
    if let Some(challenge) = resp.headers().get("www-authenticate") {
        let challenge = challenge.to_str().expect("a challenge is ASCII");
        assert!(
            !challenge.contains("zqx"),
            "{what}: challenge echoes input: {challenge}"
        );
    }
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let Some(description) = body.get("error_description").and_then(Value::as_str) else {
        return false;
    };
    assert!(status >= 400, "{what}: {status} with an error body");
    assert!(
        description.chars().all(allowed),
        "{what}: error_description outside RFC 6749 §5.2: {description:?}"
    );
    assert!(
        !description.contains("zqx"),
        "{what}: echoes input: {description:?}"
    );
    true
}

fn form_post(app: &TestApp, path: &str, pairs: &[(&str, &str)]) -> RequestBuilder {
    app.client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(pairs).expect("form"))
}

#[actix_web::test]
async fn no_error_description_breaks_rfc_6749_or_echoes_input() {
    let app = spawn_app().await;
    let shop = basic("shopping-app", "shopping-secret");
    let mut errors = 0;
    let mut count = |is_error: bool| errors += usize::from(is_error);
    for bad in hostile() {
        let bad = bad.as_str();
        let token_forms: Vec<Vec<(&str, &str)>> = vec![
            vec![("grant_type", bad)],
            vec![
                ("grant_type", "password"),
                ("username", bad),
                ("password", bad),
            ],
            vec![("grant_type", "password"), ("username", "alex")],
            vec![("grant_type", "client_credentials"), ("scope", bad)],
            vec![("grant_type", "refresh_token"), ("refresh_token", bad)],
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", bad),
                ("scope", bad),
            ],
            vec![("grant_type", "client_credentials"), ("client_id", bad)],
        ];
        for pairs in &token_forms {
            count(
                probe(
                    form_post(&app, "/oauth2/token", pairs).header("authorization", &shop),
                    "token",
                )
                .await,
            );
            count(
                probe(
                    form_post(&app, "/oauth2/token", pairs),
                    "token without client",
                )
                .await,
            );
        }
        // Client credentials themselves.
        count(
            probe(
                form_post(
                    &app,
                    "/oauth2/token",
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", bad),
                        ("client_secret", bad),
                    ],
                ),
                "form client",
            )
            .await,
        );
        count(
            probe(
                form_post(
                    &app,
                    "/oauth2/token",
                    &[("grant_type", "client_credentials")],
                )
                .header("authorization", basic(bad, bad)),
                "basic client",
            )
            .await,
        );
        count(
            probe(
                form_post(
                    &app,
                    "/oauth2/token",
                    &[("grant_type", "client_credentials")],
                )
                .header(
                    "authorization",
                    format!("Basic {}", bad.replace(['\n', '\0'], "")),
                ),
                "basic garbage",
            )
            .await,
        );
        // Content types and bodies.
        count(
            probe(
                app.client
                    .post(app.url("/oauth2/token"))
                    .header(
                        "content-type",
                        format!("text/{}", bad.replace(['\n', '\0'], "x")),
                    )
                    .body("grant_type=password"),
                "content type",
            )
            .await,
        );
        count(
            probe(
                app.client
                    .post(app.url("/oauth2/token"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(bad.as_bytes().to_vec()),
                "raw body",
            )
            .await,
        );
        // Introspection and revocation.
        for path in ["/oauth2/introspect", "/oauth2/revoke"] {
            count(
                probe(
                    form_post(&app, path, &[("token", bad), ("token_type_hint", bad)])
                        .header("authorization", &shop),
                    path,
                )
                .await,
            );
            count(
                probe(
                    form_post(&app, path, &[("token", bad)])
                        .header("authorization", basic(bad, "x")),
                    path,
                )
                .await,
            );
            count(probe(form_post(&app, path, &[("client_id", bad)]), path).await);
        }
        // The check endpoints: hostile paths, methods and tokens.
        let header_safe = bad
            .replace(['\n', '\0'], "x")
            .replace(|c: char| !c.is_ascii(), "x");
        let path = format!("/shopping/1.0.0/{}", urlencoding(bad));
        count(
            probe(
                app.client
                    .get(app.url("/authz/check"))
                    .header("x-original-method", "GET")
                    .header("x-original-uri", &path)
                    .bearer_auth(&header_safe),
                "check token",
            )
            .await,
        );
        count(
            probe(
                app.client
                    .get(app.url("/authz/check"))
                    .header("x-original-method", header_safe.as_str())
                    .header("x-original-uri", "/shopping/1.0.0/orders"),
                "check method",
            )
            .await,
        );
        count(
            probe(
                app.client.get(app.url("/authz/check")),
                "check without original request",
            )
            .await,
        );
        count(
            probe(
                app.client
                    .get(app.url(&format!("/authz/envoy{path}")))
                    .bearer_auth(&header_safe),
                "envoy",
            )
            .await,
        );
        // decide: hostile JSON.
        for body in [
            json!({"token": bad, "method": bad, "path": bad}),
            json!({"token": bad, "method": "GET", "path": "/shopping/1.0.0/orders"}),
            json!({bad: 1}),
            json!({"method": "GET"}),
            json!({"requests": [{"method": bad}]}),
        ] {
            let resp = app
                .client
                .post(app.url("/authz/v1/decide"))
                .json(&body)
                .send()
                .await
                .expect("decide");
            let answer: Value = resp.json().await.unwrap_or(Value::Null);
            let descriptions: Vec<&str> = match answer.get("results") {
                Some(results) => results
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r["error_description"].as_str())
                    .collect(),
                None => answer["error_description"].as_str().into_iter().collect(),
            };
            for description in descriptions {
                count(true);
                assert!(description.chars().all(allowed), "decide: {description:?}");
                assert!(
                    !description.contains("zqx"),
                    "decide echoes input: {description:?}"
                );
            }
        }
        count(
            probe(
                app.client
                    .post(app.url("/authz/v1/decide"))
                    .header("content-type", "application/json")
                    .body(format!("{{\"token\": \"{}", bad.replace('"', ""))),
                "decide broken json",
            )
            .await,
        );
    }
    assert!(errors >= 90, "only {errors} error answers were checked");
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
