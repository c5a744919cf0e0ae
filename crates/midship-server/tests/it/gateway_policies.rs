//! The gateway's API policies end to end (mock, cache, circuit breaker, traffic migration, header
//! rules, authorizer APIs, RSA proxy signatures), on the fixture of `gateway.rs`.

use midship_api::{CreateApiGroupRequest, CreateApiRequest};
use reqwest::StatusCode;
use serde_json::json;

use crate::gateway::{Call, api, fixture, now_ms, policy_api, result, upstream};

#[tokio::test]
async fn api_policies_mock_cache_breaker_migration_and_header_rules() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let calls = || fixture.seen.lock().unwrap().len();
    let create = |request: CreateApiRequest| {
        let admin = admin.clone();
        let workspace = fixture.workspace.clone();
        async move { admin.create_api(&workspace, &request).await.unwrap() }
    };
    create(policy_api(
        "com.p.mocked",
        "core",
        "/mocked",
        json!({ "mock": { "percentage": 100, "response": { "body": "{\"mock\":true}" } } }),
    ))
    .await;
    create(policy_api(
        "com.p.cached",
        "core",
        "/cached/{accountId}",
        json!({ "cache": { "ttl_seconds": 60, "key_fields": ["accountId"], "key_headers": ["User-Id"] } }),
    ))
    .await;
    create(policy_api("com.p.nocache", "core", "/nocache", json!({ "cache": { "ttl_seconds": 60 } }))).await;
    create(policy_api(
        "com.p.breaker",
        "core",
        "/broken",
        json!({ "circuit_breaker": {
        "minimum_calls": 2, "error_percentage": 50, "open_seconds": 60,
        "fallback": { "body": "{\"fallback\":true}" } } }),
    ))
    .await;
    create(policy_api(
        "com.p.migrated",
        "core",
        "/moved",
        json!({ "migration": { "group": "dead", "percentage": 100 } }),
    ))
    .await;
    create(policy_api(
        "com.p.headers",
        "core",
        "/headers",
        json!({ "header_rules": [
        { "stage": "request", "action": "add", "name": "X-Tenant", "value": "bank" },
        { "stage": "request", "action": "remove", "name": "X-Midship-User-Id" },
        { "stage": "response", "action": "add", "name": "X-Served-By", "value": "midship" }
    ] }),
    ))
    .await;

    let before = calls();
    let (_, headers, body) = fixture.call(Call::new("com.p.mocked", "{}")).await;
    assert_eq!((result(&headers), String::from_utf8(body).unwrap()), (1000, r#"{"mock":true}"#.to_owned()));
    assert_eq!(headers["memo"], "mock response");
    assert_eq!(calls(), before, "a mocked call never reaches the backend");

    fixture.call(Call::new("com.p.cached", r#"{"accountId": "A"}"#)).await;
    let (_, headers, _) = fixture.call(Call::new("com.p.cached", r#"{"accountId": "A"}"#)).await;
    assert_eq!(headers["memo"], "cached response");
    assert_eq!(calls(), before + 1, "the second call came from the cache");
    fixture.call(Call::new("com.p.cached", r#"{"accountId": "B"}"#)).await;
    assert_eq!(calls(), before + 2, "another key field value is another entry");

    for _ in 0..2 {
        let (_, headers, _) = fixture.call(Call::new("com.p.nocache", "{}")).await;
        assert_eq!(headers["memo"], "success", "Pragma: no-cache opts out");
        assert_eq!(headers["x-backend"], "yes", "backend headers are passed on");
    }

    assert_eq!(result(&fixture.call(Call::new("com.p.breaker", "{}")).await.1), 4002);
    assert_eq!(result(&fixture.call(Call::new("com.p.breaker", "{}")).await.1), 4002);
    let (_, headers, body) = fixture.call(Call::new("com.p.breaker", "{}")).await;
    assert_eq!((result(&headers), String::from_utf8(body).unwrap()), (1000, r#"{"fallback":true}"#.to_owned()));
    assert_eq!(headers["memo"], "circuit open, fallback response");

    assert_eq!(
        result(&fixture.call(Call::new("com.p.migrated", "{}")).await.1),
        4003,
        "all traffic moved to the dead group"
    );

    let (_, headers, _) = fixture.call(Call::new("com.p.headers", "{}")).await;
    assert_eq!(headers["x-served-by"], "midship");
    let seen = fixture.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.headers["x-tenant"], "bank");
    assert!(seen.headers.get("x-midship-user-id").is_none(), "removed by a request rule");

    let shown = admin.show_api(&fixture.workspace, "com.p.breaker").await.unwrap();
    assert_eq!(shown.policies.circuit_breaker.unwrap()["minimum_calls"], 2);
    let bad = admin
        .create_api(
            &fixture.workspace,
            &policy_api(
                "com.p.bad",
                "core",
                "/x",
                json!({ "mock": { "percentage": 101, "response": { "body": "" } } }),
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Some("invalid_request"), "{bad}");
    let bad = admin
        .create_api(&fixture.workspace, &policy_api("com.p.bad", "core", "/x", json!({ "cache": { "ttl": 5 } })))
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("cache"), "{bad}");
}

#[tokio::test]
async fn an_authorizer_api_decides_and_its_principal_reaches_the_backend() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    admin.create_api(&fixture.workspace, &api("com.auth.check", "core", "/authorize")).await.unwrap();
    let guarded = policy_api(
        "com.bank.guarded",
        "core",
        "/guarded",
        json!({ "authorizer": { "operation_type": "com.auth.check", "cache_seconds": 60 } }),
    );
    admin.create_api(&fixture.workspace, &guarded).await.unwrap();
    let with_authorization = |token: &str| {
        let mut headers = fixture.signed_headers(&Call::new("com.bank.guarded", "{}"), &fixture.secret);
        headers.push(("Authorization", format!("Bearer {token}")));
        headers
    };
    let backend_calls =
        || fixture.seen.lock().unwrap().iter().filter(|seen| seen.path_and_query == "/api/guarded").count();

    let (_, headers, _) = fixture.send(with_authorization("good"), "{}").await;
    assert_eq!(result(&headers), 1000);
    let seen = fixture.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.headers["x-midship-principal"], "user:alice");
    assert_eq!(result(&fixture.send(with_authorization("good"), "{}").await.1), 1000, "allowed again (from the cache)");
    assert_eq!(backend_calls(), 2);

    let (status, headers, _) = fixture.send(with_authorization("login"), "{}").await;
    assert_eq!((result(&headers), status), (2000, StatusCode::UNAUTHORIZED));
    let (status, headers, _) = fixture.send(with_authorization("stolen"), "{}").await;
    assert_eq!((result(&headers), status), (1005, StatusCode::FORBIDDEN));
    let (_, headers, _) = fixture.call(Call::new("com.bank.guarded", "{}")).await;
    assert_eq!(result(&headers), 1005, "no credentials, no call");
    assert_eq!(backend_calls(), 2, "refused calls never reach the backend");
}

#[tokio::test]
async fn rsa_groups_sign_so_backends_verify_with_a_public_key_only() {
    let fixture = fixture().await;
    let admin = fixture.server.admin();
    let private_key = include_str!("../../../midship-signing/testdata/rsa-2048-test-key.pem");
    let base_url = upstream(fixture.seen.clone()).await;
    let request = CreateApiGroupRequest {
        name: "rsa-backend".into(),
        base_url,
        proxy_signature: Some("rsa".into()),
        rsa_private_key: Some(private_key.into()),
        ..CreateApiGroupRequest::default()
    };
    let group = admin.create_api_group(&fixture.workspace, &request).await.unwrap();
    assert_eq!(group.proxy_signature, "rsa");
    let public_key = group.rsa_public_key.expect("the public key is shown");
    let listed = admin.list_api_groups(&fixture.workspace).await.unwrap();
    assert!(listed.items.iter().all(|group| group.proxy_secret.is_none()), "secrets only at creation");
    admin.create_api(&fixture.workspace, &api("com.rsa.call", "rsa-backend", "/signed")).await.unwrap();

    let (_, headers, _) = fixture.call(Call::new("com.rsa.call", r#"{"x": 1}"#)).await;
    assert_eq!(result(&headers), 1000);
    let seen = fixture.seen.lock().unwrap().last().cloned().unwrap();
    let signature = seen.headers["x-midship-proxy-signature"].to_str().unwrap();
    assert!(signature.contains("alg=rsa-sha256"), "{signature}");
    midship_signing::proxy::verify_rsa(
        &public_key,
        signature,
        "POST",
        &seen.path_and_query,
        &seen.body,
        now_ms(),
        60_000,
    )
    .expect("verifies with the public key alone");

    let bad = CreateApiGroupRequest {
        name: "bad-rsa".into(),
        base_url: "http://backend".into(),
        proxy_signature: Some("rsa".into()),
        rsa_private_key: Some("not a key".into()),
        ..CreateApiGroupRequest::default()
    };
    assert_eq!(admin.create_api_group(&fixture.workspace, &bad).await.unwrap_err().code(), Some("invalid_request"));
}
