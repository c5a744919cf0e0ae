//! The push templates and channels page: a template set, sent to a user with values, deleted;
//! a channel with a broken definition refused, an operator kept from channels.

use reqwest::StatusCode;

use super::browser::Browser;
use crate::TestServer;

#[tokio::test]
async fn templates_are_set_sent_and_deleted_and_channels_checked() {
    let server = TestServer::start().await;
    let mut ana = Browser::person(&server, "ana", "admin").await;
    ana.post_vec("/console/apps", vec![("name", "Utility"), ("workspaces", "prod")]).await;
    let app_id = server.admin().list_apps(&Default::default()).await.unwrap().items[0].app_id.clone();
    let workspace_id = server.admin().list_workspaces(&app_id).await.unwrap().items[0].workspace_id.clone();

    ana.page("/console/push/templates").await;
    let saved = ana
        .post(
            "/console/push/templates",
            &[("name", "bill"), ("title", "Bill for ${month}"), ("content", "Due: ${amount}"), ("uri", "")],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let page = ana.page("/console/push/templates").await;
    assert!(page.contains("<td>Bill for ${month}</td>") && page.contains("Send a template"), "{page}");

    let missing_value = ana
        .post(
            "/console/push/templates/send",
            &[
                ("template", "bill"),
                ("target_kind", "user"),
                ("target_id", "alice"),
                ("msg_id", "b-1"),
                ("values", "month=May"),
            ],
        )
        .await;
    assert_eq!(missing_value.status(), StatusCode::BAD_REQUEST, "every placeholder needs a value");
    ana.page("/console/push/templates").await;
    let sent = ana
        .post(
            "/console/push/templates/send",
            &[
                ("template", "bill"),
                ("target_kind", "user"),
                ("target_id", "alice"),
                ("msg_id", "b-2"),
                ("values", "month=May\namount=40"),
            ],
        )
        .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let tasks = server.admin().push_tasks(&workspace_id, 10).await.unwrap().items;
    assert_eq!(tasks.iter().map(|task| task.kind.as_str()).collect::<Vec<_>>(), ["template"]);

    ana.page("/console/push/templates").await;
    let broken = ana.post("/console/push/channels", &[("name", "apns"), ("definition", "{not json")]).await;
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    ana.page("/console/push/templates").await;
    let incomplete =
        ana.post("/console/push/channels", &[("name", "apns"), ("definition", r#"{"kind": "apns"}"#)]).await;
    assert_eq!(incomplete.status(), StatusCode::BAD_REQUEST, "a channel is checked by building it");

    ana.page("/console/push/templates").await;
    ana.post("/console/push/templates/delete", &[("name", "bill")]).await;
    assert!(!ana.page("/console/push/templates").await.contains("<td>Bill for ${month}</td>"), "deleted");

    let mut ben = Browser::person(&server, "ben", "operator").await;
    let page = ben.page("/console/push/templates").await;
    assert!(page.contains("Set a template") && !page.contains("Set a channel"), "channels are a developer's: {page}");
}
