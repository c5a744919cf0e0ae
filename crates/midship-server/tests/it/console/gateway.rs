//! A gateway API's page: its definition and policies edited as JSON, checked as the admin API
//! checks them, kept as typed when refused; read-only below developer.

use reqwest::StatusCode;

use super::browser::Browser;
use crate::TestServer;

#[tokio::test]
async fn an_apis_policies_are_edited_in_the_console() {
    let server = TestServer::start().await;
    let mut dev = Browser::person(&server, "dev", "developer").await;
    dev.post_vec("/console/apps", vec![("name", "Bank"), ("workspaces", "prod")]).await;
    let admin = server.admin();
    let app = admin.list_apps(&Default::default()).await.unwrap().items.remove(0);
    let workspace = admin.list_workspaces(&app.app_id).await.unwrap().items.remove(0).workspace_id;
    dev.page("/console/gateway").await;
    dev.post(
        "/console/gateway/groups",
        &[("name", "core"), ("base_url", "http://127.0.0.1:9"), ("timeout_ms", "3000")],
    )
    .await;
    dev.page("/console/gateway").await;
    let registered = dev
        .post(
            "/console/gateway/apis",
            &[
                ("operation_type", "com.bank.balance"),
                ("group", "core"),
                ("method", "POST"),
                ("path", "/balance"),
                ("rate_limit", ""),
            ],
        )
        .await;
    assert_eq!(registered.status(), StatusCode::SEE_OTHER);
    assert!(dev.page("/console/gateway").await.contains(r#"href="/console/gateway/apis/com.bank.balance""#));

    let page = dev.page("/console/gateway/apis/com.bank.balance").await;
    let start = page.find(r#"name="definition""#).unwrap();
    let text = &page[page[start..].find('>').unwrap() + start + 1..];
    let text = text[..text.find("</textarea>").unwrap()].replace("&quot;", "\"");
    let mut definition: serde_json::Value = serde_json::from_str(&text).expect("the page shows the API as JSON");
    assert_eq!((definition["group"].as_str(), definition["path"].as_str()), (Some("core"), Some("/balance")));

    definition["rate_limit_per_second"] = 50.into();
    definition["mock"] =
        serde_json::json!({ "percentage": 100, "response": { "status": 200, "body": "{\"balance\": 0}" } });
    dev.page("/console/gateway/apis/com.bank.balance").await;
    let saved = dev.post("/console/gateway/apis/com.bank.balance", &[("definition", &definition.to_string())]).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER, "{}", saved.text().await.unwrap());
    let api = admin.show_api(&workspace, "com.bank.balance").await.unwrap();
    assert_eq!(api.rate_limit_per_second, Some(50));
    assert_eq!(api.policies.mock.unwrap()["percentage"], 100);
    assert_eq!(api.status, "open", "editing keeps it open");

    dev.page("/console/gateway/apis/com.bank.balance").await;
    let broken = dev.post("/console/gateway/apis/com.bank.balance", &[("definition", "{\"path\": ")]).await;
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    assert!(broken.text().await.unwrap().contains("{&quot;path&quot;: </textarea>"), "kept as typed");
    dev.page("/console/gateway/apis/com.bank.balance").await;
    definition["mock"] = serde_json::json!({ "percentage": 150 });
    let invalid = dev.post("/console/gateway/apis/com.bank.balance", &[("definition", &definition.to_string())]).await;
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);

    let mut ops = Browser::person(&server, "ops", "operator").await;
    let page = ops.page("/console/gateway/apis/com.bank.balance").await;
    assert!(page.contains("readonly") && !page.contains(">Save<"), "operators read the definition: {page}");
}
