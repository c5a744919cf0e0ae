use reqwest::StatusCode;
use serde_json::Value;

use crate::TestServer;

#[tokio::test]
async fn health_readiness_and_metrics() {
    let server = TestServer::start().await;
    let health: Value = server.http.get(server.url("/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let ready: Value = server.http.get(server.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["storage"], "sqlite");

    server.admin().whoami().await.unwrap();
    let metrics = server.http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(r#"midship_http_requests_total{method="GET",route="/api/v1/whoami",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains("midship_build_info"), "{text}");
}

#[tokio::test]
async fn openapi_document_describes_every_admin_endpoint() {
    let server = TestServer::start().await;
    let document: Value =
        server.http.get(server.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."), "{}", document["openapi"]);
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/api/v1/apps",
        "/api/v1/apps/{app_id}",
        "/api/v1/apps/{app_id}/keys/rotate",
        "/api/v1/tokens",
        "/api/v1/audit",
    ] {
        assert!(paths.contains_key(path), "missing {path}");
    }
    assert!(document["components"]["schemas"]["CreatedApp"].is_object());
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    let rotate = &document["paths"]["/api/v1/apps/{app_id}/keys/rotate"]["post"]["responses"];
    for status in ["401", "403", "404", "400", "413", "415", "500", "503"] {
        assert!(rotate[status].is_object(), "rotate documents {status}: {rotate}");
    }
}

#[tokio::test]
async fn the_api_reference_page_is_served_from_the_binary() {
    let server = TestServer::start().await;
    let page = server.http.get(server.url("/api/v1/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("/api/v1/openapi.json") && html.contains("/api/v1/docs/swagger-ui-bundle.js"), "{html}");
    let script = server.http.get(server.url("/api/v1/docs/swagger-ui-bundle.js")).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.text().await.unwrap().contains("SwaggerUIBundle"));
    let no_follow = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let injected = no_follow.get(server.url("/api/v1/docs?\"><script>alert(1)</script>")).send().await.unwrap();
    assert_eq!(injected.status(), 303, "a query string is redirected away, never written into the page");
    assert_eq!(injected.headers()["location"], "/api/v1/docs");
}

#[tokio::test]
async fn the_server_serves_http2_without_tls() {
    let server = TestServer::start().await;
    let http2 = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let response = http2.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), StatusCode::OK);
}
