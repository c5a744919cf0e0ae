//! A browser as far as the console can tell: it keeps cookies, follows the sign-in forms a
//! person fills in (password, then the authenticator code), and sends each form's anti-forgery
//! field as read from the page it came from.

use std::collections::BTreeMap;

use midship_control::NewPerson;
use midship_control::people::totp;
use reqwest::{Response, StatusCode};

use crate::TestServer;

pub const PASSWORD: &str = "harbour lights at nine";

#[derive(Debug)]
pub struct Browser {
    base_url: String,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
    /// The anti-forgery value of the last page read.
    csrf: Option<String>,
    pub totp_secret: Option<String>,
    /// The last authenticator step used, so the next sign-in uses a fresh code.
    last_step: i64,
}

/// The value of the first `name="_csrf"` field on a page.
pub fn csrf_of(page: &str) -> Option<String> {
    let start = page.find(r#"name="_csrf" value=""#)? + r#"name="_csrf" value=""#.len();
    let end = start + page[start..].find('"')?;
    Some(page[start..end].to_owned())
}

fn between<'a>(page: &'a str, before: &str, after: &str) -> Option<&'a str> {
    let start = page.find(before)? + before.len();
    let end = start + page[start..].find(after)?;
    Some(&page[start..end])
}

impl Browser {
    pub fn new(server: &TestServer) -> Self {
        Self {
            base_url: server.base_url.clone(),
            http: server.http.clone(),
            cookies: BTreeMap::new(),
            csrf: None,
            totp_secret: None,
            last_step: 0,
        }
    }

    /// A new person of `role`, signed in with their own password and authenticator app, as
    /// someone handed a temporary password would do it.
    pub async fn person(server: &TestServer, login: &str, role: &str) -> Self {
        let admin = server.state.control.authenticate(&server.admin_token).await.unwrap();
        let request = NewPerson { login: login.into(), display_name: login.into(), role: role.into(), app_ids: None };
        let created = server.state.control.create_person(&admin, request).await.unwrap();
        let mut browser = Self::new(server);
        browser.first_sign_in(login, &created.temporary_password).await;
        browser
    }

    /// Temporary password, own password, authenticator app.
    pub async fn first_sign_in(&mut self, login: &str, temporary_password: &str) {
        let signed_in = self.sign_in(login, temporary_password).await;
        assert_eq!(signed_in.headers()["location"], "/console");
        let owed = self.get("/console/apps").await;
        assert_eq!(owed.headers()["location"], "/console/account", "a temporary password must be changed first");
        self.page("/console/account").await;
        let changed = self
            .post("/console/account/password", &[("current_password", temporary_password), ("new_password", PASSWORD)])
            .await;
        assert_eq!(changed.status(), StatusCode::SEE_OTHER);
        self.sign_in(login, PASSWORD).await;
        self.page("/console/account").await;
        let setup = self.post("/console/account/totp", &[]).await;
        assert_eq!(setup.status(), StatusCode::OK);
        let page = setup.text().await.unwrap();
        let secret = between(&page, "Key: <code>", "</code>").expect("the key is shown").to_owned();
        assert!(page.contains("<svg"), "a QR code to scan");
        let code = self.next_code(&secret).await;
        let confirmed = self.post("/console/account/totp/confirm", &[("code", code.as_str())]).await;
        assert_eq!(confirmed.status(), StatusCode::OK);
        self.totp_secret = Some(secret);
        let apps = self.get("/console/apps").await;
        assert_eq!(apps.status(), StatusCode::OK, "nothing owed any more");
    }

    /// The authenticator app's code, never one already used. The server takes the current step
    /// and the next; when both are used, this waits for the next step, as a person would.
    pub async fn next_code(&mut self, secret: &str) -> String {
        loop {
            let now_ms = midship_core::Clock::now_ms(&midship_core::SystemClock);
            let now_step = now_ms / totp::STEP_MS;
            let step = now_step.max(self.last_step + 1);
            if step <= now_step + 1 {
                self.last_step = step;
                return totp::code_at_step(&totp::base32_decode(secret).unwrap(), step);
            }
            let until_next_step = totp::STEP_MS - now_ms % totp::STEP_MS;
            tokio::time::sleep(std::time::Duration::from_millis(until_next_step as u64 + 10)).await;
        }
    }

    /// The code this browser's person typed last.
    pub fn last_code(&self) -> String {
        let secret = self.totp_secret.as_deref().expect("a person with an app");
        totp::code_at_step(&totp::base32_decode(secret).unwrap(), self.last_step)
    }

    /// The sign-in form: login and password (and the code, when the person has an app).
    pub async fn sign_in(&mut self, login: &str, password: &str) -> Response {
        self.page("/console/login").await;
        let response = self.post("/console/login", &[("login", login), ("password", password)]).await;
        if response.headers().get("location").is_some_and(|location| location == "/console/login/code") {
            let secret = self.totp_secret.clone().expect("a person with an app");
            self.page("/console/login/code").await;
            let code = self.next_code(&secret).await;
            return self.post("/console/login/code", &[("code", code.as_str())]).await;
        }
        response
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.into(), value.into());
    }

    fn keep_cookies(&mut self, response: &Response) {
        for set_cookie in response.headers().get_all("set-cookie") {
            let text = set_cookie.to_str().unwrap();
            // Strict, but for the single sign-on flow's cookie, which must come back with the
            // provider's redirect.
            let same_site = if text.starts_with("midship_oidc=") { "SameSite=Lax" } else { "SameSite=Strict" };
            assert!(text.contains("HttpOnly") && text.contains(same_site), "{text}");
            let (name, value) = text.split(';').next().unwrap().split_once('=').unwrap();
            if name != "midship_context" {
                // Another session: its forms carry another anti-forgery value.
                self.csrf = None;
            }
            if text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let response = self.http.get(self.url(path)).header("cookie", self.cookie_header()).send().await.unwrap();
        self.keep_cookies(&response);
        response
    }

    /// Reads a page (as a person opening it would) and remembers its anti-forgery field.
    pub async fn page(&mut self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let page = response.text().await.unwrap();
        if let Some(csrf) = csrf_of(&page) {
            self.csrf = Some(csrf);
        }
        page
    }

    /// Submits a form with the anti-forgery field of the last page read (reading the page that
    /// shows the form first, when the session changed since).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        if self.csrf.is_none() {
            let page = if self.cookies.contains_key("midship_session") {
                "/console/account"
            } else if self.cookies.contains_key("midship_pending") {
                "/console/login/code"
            } else {
                "/console/login"
            };
            self.page(page).await;
        }
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone().unwrap_or_default();
        form.push(("_csrf", &csrf));
        let response =
            self.http.post(self.url(path)).header("cookie", self.cookie_header()).form(&form).send().await.unwrap();
        self.keep_cookies(&response);
        response
    }

    /// [`Self::post`] for forms written as a list of pairs.
    pub async fn post_vec<V: AsRef<str>>(&mut self, path: &str, fields: Vec<(&str, V)>) -> Response {
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_ref())).collect();
        self.post(path, &borrowed).await
    }

    /// Reads a page without keeping what it sets, for polling until something shows.
    pub fn read(&self, path: &str) -> impl std::future::Future<Output = String> + use<> {
        let request = self.http.get(self.url(path)).header("cookie", self.cookie_header());
        async move { request.send().await.unwrap().text().await.unwrap() }
    }

    pub async fn text(&mut self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }
}
