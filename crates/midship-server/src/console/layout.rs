//! The page shell: header with the app and workspace switcher, navigation, and error pages.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use midship_core::App;
use midship_core::access::Action;

use super::session::ConsoleSession;

/// Navigation entries: (path, label, what the page needs). Pages a person's role cannot use
/// (people and tokens are for admins) are left out, which also keeps the header on one line.
pub const NAV: &[(&str, &str, Action)] = &[
    ("/console/apps", "Apps", Action::Read),
    ("/console/switches", "Switches", Action::Read),
    ("/console/experiments", "A/B", Action::Read),
    ("/console/gateway", "Gateway", Action::Read),
    ("/console/sync", "Sync", Action::Read),
    ("/console/push", "Push", Action::Read),
    ("/console/delivery", "Delivery", Action::Read),
    ("/console/analytics", "Analytics", Action::Read),
    ("/console/approvals", "Approvals", Action::Read),
    ("/console/people", "People", Action::ManageAccess),
    ("/console/tokens", "Tokens", Action::ManageAccess),
    ("/console/audit", "Audit", Action::Read),
];

const STYLE: &str = r#"
:root { --ink:#1d2733; --muted:#5b6b7c; --line:#d9e0e7; --accent:#0b63c5; --bad:#b42318; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--ink); background:var(--bg); }
header { display:flex; gap:1rem; align-items:center; padding:.5rem 1rem; background:#102a43; color:#fff; }
header a { color:#fff; text-decoration:none; } header .brand { font-weight:700; letter-spacing:.02em; }
header nav { display:flex; flex-wrap:wrap; gap:.2rem .6rem; flex:1 1 auto; min-width:0; font-size:.9rem; }
header nav a { opacity:.85; white-space:nowrap; } header nav a.current { opacity:1; border-bottom:2px solid #fff; }
header form { display:inline-flex; gap:.3rem; align-items:center; margin:0; }
header select { max-width:9rem; }
header .who { display:flex; gap:.5rem; align-items:center; font-size:.85rem; white-space:nowrap; }
header .who a { display:inline-block; max-width:8rem; overflow:hidden; text-overflow:ellipsis; vertical-align:bottom; }
main { max-width:1200px; margin:1.5rem auto; padding:0 1.5rem; }
.scroll { display:block; overflow-x:auto; }
td { overflow-wrap:break-word; } td.mono { overflow-wrap:anywhere; } td.json { overflow-wrap:anywhere; font-size:.8em; max-width:28rem; }
.card > h2:first-of-type { margin-top:.2rem; } form.card > button { display:block; margin-top:.8rem; }
.narrow { max-width:26rem; } .narrow input { width:100%; }
.notice { background:#e8f1fb; border:1px solid #b6d4f2; padding:.6rem 1rem; }
input[aria-invalid="true"], select[aria-invalid="true"], textarea[aria-invalid="true"] { border:2px solid var(--bad); }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:.2rem 1rem; } dl.facts dd { margin:0; }
.qr svg { width:200px; height:200px; }
label.inline { display:inline-block; margin-right:1rem; } fieldset { border:1px solid var(--line); margin:.6rem 0; }
@media (max-width: 1000px) { header { flex-wrap:wrap; } main { padding:0 .8rem; } }
h1 { font-size:1.4rem; margin:.2rem 0 1rem; } h2 { font-size:1.1rem; margin-top:2rem; }
table { width:100%; border-collapse:collapse; background:#fff; border:1px solid var(--line); }
th, td { text-align:left; padding:.45rem .6rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:.8rem; text-transform:uppercase; color:var(--muted); background:#fbfcfd; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:.9em; }
form.card, .card { background:#fff; border:1px solid var(--line); padding:1rem; margin:1rem 0; }
label { display:block; margin:.4rem 0; } input, select { font:inherit; padding:.3rem .4rem; }
button { font:inherit; padding:.35rem .8rem; background:var(--accent); color:#fff; border:0; border-radius:3px; cursor:pointer; }
button.danger { background:var(--bad); }
a.button { display:inline-block; padding:.45rem .9rem; background:#fff; color:var(--accent); border:1px solid var(--accent); border-radius:3px; text-decoration:none; }
.secret { background:#fff8e1; border:1px solid #f0c36d; padding:1rem; margin:1rem 0; }
.error { color:var(--bad); } .muted { color:var(--muted); }
"#;

fn document(title: &str, header: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Midship" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                (header)
                main { (body) }
            }
        }
    }
}

/// A signed-in page: header with navigation, app/workspace switcher and the caller.
pub fn page(session: &ConsoleSession, current_path: &str, title: &str, body: Markup) -> Response {
    let header = html! {
        header {
            a.brand href="/console" { "Midship" }
            nav {
                @for (path, label, needs) in NAV {
                    @if session.principal.role.allows(*needs) {
                        a.current[current_path.starts_with(path)] href=(path) { (label) }
                    }
                }
            }
            form method="get" action="/console/switch" {
                select name="app_id" aria-label="app" {
                    @if session.apps.is_empty() { option value="" { "no apps yet" } }
                    @for app in &session.apps {
                        option value=(app.app_id) selected[session.context.app_id() == Some(app.app_id.as_str())] { (app.name) }
                    }
                }
                @if !session.workspaces.is_empty() {
                    select name="workspace_id" aria-label="workspace" {
                        @for workspace in &session.workspaces {
                            option value=(workspace.workspace_id)
                                selected[session.context.workspace_id() == Some(workspace.workspace_id.as_str())] { (workspace.name) }
                        }
                    }
                }
                button type="submit" { "Switch" }
            }
            (who(session.principal.actor_name(), session.principal.role.as_str(), &session.csrf))
        }
    };
    Html(document(title, header, body).into_string()).into_response()
}

/// The signed-in person, a link to their account, and signing out.
fn who(login: &str, role: &str, csrf: &str) -> Markup {
    html! {
        span.who {
            a href="/console/account" title={ "Your account: " (login) } { (login) } " · " (role)
            form method="post" action="/console/logout" {
                (super::session::csrf_input(csrf))
                button type="submit" { "Sign out" }
            }
        }
    }
}

/// The account page's shell: no navigation, since the person may owe a new password first.
pub fn account_page(status: StatusCode, login: &str, role: &str, csrf: &str, title: &str, body: Markup) -> Response {
    let header = html! {
        header {
            a.brand href="/console" { "Midship" }
            nav { a href="/console" { "Console" } }
            (who(login, role, csrf))
        }
    };
    (status, Html(document(title, header, body).into_string())).into_response()
}

/// A page outside the signed-in shell (sign-in, errors).
pub fn bare_page(status: StatusCode, title: &str, body: Markup) -> Response {
    let header = html! { header { a.brand href="/console" { "Midship" } } };
    (status, Html(document(title, header, body).into_string())).into_response()
}

pub fn error_page(status: StatusCode, message: &str) -> Response {
    bare_page(
        status,
        "Error",
        html! {
            h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("error")) }
            p.error { (message) }
            p { a href="/console" { "Back to the console" } }
        },
    )
}

/// Horizontal bars, one per stage of the funnel, scaled to the first.
pub fn funnel_chart(label: &str, stages: &[(&str, i64)]) -> Markup {
    const WIDTH: i64 = 640;
    const LABEL: i64 = 110;
    const ROW: i64 = 28;
    let largest = stages.iter().map(|(_, count)| *count).max().unwrap_or(0).max(1);
    let height = ROW * stages.len() as i64 + 8;
    html! {
        svg width=(WIDTH) height=(height) viewBox=(format!("0 0 {WIDTH} {height}")) role="img" aria-label=(label) {
            @for (index, (label, count)) in stages.iter().enumerate() {
                @let y = index as i64 * ROW + 4;
                @let bar = (WIDTH - LABEL - 80) * count / largest;
                text x="0" y=(y + 17) font-size="13" fill="#1d2733" { (label) }
                @let first = stages.first().map_or(0, |(_, first)| *first).max(1);
                rect x=(LABEL) y=(y) width=(bar.max(1)) height="20" rx="3" fill="#0b63c5" {
                    title { (label) ": " (count) " (" (format!("{:.1}", *count as f64 * 100.0 / first as f64)) " % of the first step)" }
                }
                text x=(LABEL + bar + 8) y=(y + 16) font-size="13" fill="#5b6b7c" { (count) }
            }
        }
    }
}

/// Vertical columns over a labelled axis (days, minutes), scaled to the largest, with the largest
/// value and the first and last labels written out.
pub fn column_chart(label: &str, columns: &[(String, i64)]) -> Markup {
    const WIDTH: i64 = 720;
    const HEIGHT: i64 = 160;
    const AXIS: i64 = 20;
    let largest = columns.iter().map(|(_, value)| *value).max().unwrap_or(0).max(1);
    let slot = WIDTH / (columns.len() as i64).max(1);
    let bar = (slot - 2).max(1);
    html! {
        svg width=(WIDTH) height=(HEIGHT + AXIS) viewBox=(format!("0 0 {WIDTH} {}", HEIGHT + AXIS)) role="img" aria-label=(label) {
            line x1="0" y1=(HEIGHT) x2=(WIDTH) y2=(HEIGHT) stroke="#d9e0e7" {}
            @for (index, (name, value)) in columns.iter().enumerate() {
                @let height = (HEIGHT - 16) * value / largest;
                rect x=(index as i64 * slot + 1) y=(HEIGHT - height) width=(bar) height=(height) fill="#0b63c5" {
                    title { (name) ": " (value) }
                }
            }
            text x="0" y="12" font-size="12" fill="#5b6b7c" { "max " (largest) }
            @if let (Some((first, _)), Some((last, _))) = (columns.first(), columns.last()) {
                text x="0" y=(HEIGHT + 15) font-size="12" fill="#5b6b7c" { (first) }
                text x=(WIDTH) y=(HEIGHT + 15) font-size="12" fill="#5b6b7c" text-anchor="end" { (last) }
            }
        }
    }
}

/// Which apps a token or a person may see: a box per app the signed-in person sees; none ticked
/// means every app of the tenant.
pub(crate) fn app_scope_picker(apps: &[App], selected: &[String]) -> Markup {
    html! {
        fieldset.apps {
            legend { "Apps (none ticked: every app of the tenant)" }
            @if apps.is_empty() { span.muted { "no apps yet" } }
            @for app in apps {
                label.inline {
                    input type="checkbox" name="app_ids" value=(app.app_id) checked[selected.contains(&app.app_id)];
                    " " (app.name)
                }
            }
        }
    }
}

/// An app scope as people read it: the apps' names (ids of apps the viewer cannot see), or "all".
pub(crate) fn app_scope_label(app_ids: Option<&[String]>, apps: &[App]) -> String {
    let Some(app_ids) = app_ids else { return "all".to_owned() };
    let name =
        |app_id: &String| apps.iter().find(|app| &app.app_id == app_id).map_or(app_id.clone(), |app| app.name.clone());
    app_ids.iter().map(name).collect::<Vec<_>>().join(", ")
}

/// A secret shown once, with the warning that it will not be shown again.
pub(crate) fn secret_notice(label: &str, secret: &str) -> Markup {
    html! {
        div.secret {
            strong { (label) } br;
            code { (secret) }
            p { "Copy it now: Midship stores no way to show it again." }
        }
    }
}
