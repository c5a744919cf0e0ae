//! The console in headless Chromium (tests/console/run.mjs, Playwright driving Debian's
//! `chromium`) against a real `midship serve`, from the first sign-in to a funnel, with single
//! sign-on against a real OpenID provider (tests/console/oidc-provider.mjs); it writes the
//! screenshots docs/console.md shows to `target/console-screenshots` (`scripts/console-screenshots`
//! copies them into docs/console/).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::ServerProcess;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

#[test]
fn console_main_flows_in_headless_chromium() {
    let root = repository();
    let suite = root.join("tests/console");
    assert!(
        suite.join("node_modules/playwright-core").is_dir(),
        "run `npm ci` in tests/console first (scripts/test does)"
    );
    assert!(
        root.join("clients/js/dist/index.js").is_file(),
        "build the TypeScript client first (scripts/test does: cd clients/js && npm ci && npm run build)"
    );
    let chromium = std::env::var("MIDSHIP_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(Path::new(&chromium).exists(), "{chromium} is missing: apt-get install -y chromium (.ci/run does it)");
    let (mut provider, provider_lines, issuer) = start_provider(&suite);
    let data_dir = tempfile::tempdir().unwrap();
    let sso = [
        ("MIDSHIP_CONSOLE__OIDC__ISSUER", issuer["issuer"].as_str().unwrap()),
        ("MIDSHIP_CONSOLE__OIDC__CLIENT_ID", issuer["client_id"].as_str().unwrap()),
        ("MIDSHIP_CONSOLE__OIDC__CLIENT_SECRET", issuer["client_secret"].as_str().unwrap()),
    ];
    let server = ServerProcess::start_with_env(data_dir.path(), &[], &sso);
    let mut stdin = provider.stdin.take().unwrap();
    writeln!(stdin, "{}/console/oidc/callback", server.base_url).unwrap();
    assert_eq!(provider_lines.recv().unwrap(), "ready");
    let temporary_password = std::fs::read_to_string(data_dir.path().join("admin-password")).unwrap();
    let screenshots = std::env::var("MIDSHIP_CONSOLE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target/console-screenshots"));

    let output = Command::new("node")
        .arg("run.mjs")
        .current_dir(&suite)
        .env("MIDSHIP_URL", &server.base_url)
        .env("MIDSHIP_ADMIN_PASSWORD", temporary_password.trim())
        .env("MIDSHIP_SCREENSHOTS", &screenshots)
        .env("MIDSHIP_CHROMIUM", &chromium)
        .env("MIDSHIP_SSO_LOGIN", "carol")
        .output()
        .expect("node runs");
    let _ = provider.kill();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the console suite failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    assert_eq!(summary["ok"], true);
    assert!(summary["checked"].as_array().is_some_and(|pages| pages.len() >= 12), "{summary}");
    for name in [
        "sign-in-code",
        "authenticator-setup",
        "apps",
        "switches",
        "people",
        "delivery",
        "approval-requested",
        "approval-applied",
        "sign-in-sso",
        "analytics-funnel",
        "push",
        "audit",
    ] {
        assert!(screenshots.join(format!("{name}.png")).is_file(), "{name}.png was written");
    }
}

/// Starts the OpenID provider; its output lines after the first (its issuer, client id and
/// secret) arrive on the channel.
fn start_provider(suite: &Path) -> (Child, std::sync::mpsc::Receiver<String>, serde_json::Value) {
    let mut provider = Command::new("node")
        .arg("oidc-provider.mjs")
        .current_dir(suite)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node starts the OpenID provider");
    let (sender, receiver) = std::sync::mpsc::channel();
    let stdout = provider.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let first = receiver.recv_timeout(std::time::Duration::from_secs(30)).expect("the provider prints its issuer");
    let issuer: serde_json::Value = serde_json::from_str(&first).unwrap();
    (provider, receiver, issuer)
}
