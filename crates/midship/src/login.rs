//! `midship login` and `midship logout`: the command line signs in as a person through the
//! console (the device authorization flow, docs/security.md), and keeps the session as a named
//! context, so commands act with that person's role and apps, and approvals are theirs.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use midship_admin_client::AdminClient;

use crate::contexts::{Contexts, SavedContext};

/// The context's name when none is given: the server's host.
fn default_name(server: &str) -> String {
    url::Url::parse(server).ok().and_then(|url| url.host_str().map(str::to_owned)).unwrap_or_else(|| "default".into())
}

fn client_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|name| name.trim().to_owned()).unwrap_or_default();
    if host.is_empty() { "midship CLI".into() } else { format!("midship CLI on {host}") }
}

pub async fn login(server: Option<&str>, name: Option<&str>) -> anyhow::Result<()> {
    let contexts = Contexts::load()?;
    let server = server
        .map(str::to_owned)
        .or_else(|| contexts.current().map(|(_, context)| context.server.clone()))
        .unwrap_or_else(|| crate::commands::LOCAL_SERVER.to_owned());
    let anonymous = AdminClient::new(&server, "").context("invalid --server")?;
    let started = anonymous.start_device_login(&client_name()).await.context("cannot start the sign-in")?;
    println!("Open {} and confirm the code {}", started.verification_uri_complete, started.user_code);
    println!("(or open {} and type it; it is valid {} minutes)", started.verification_uri, started.expires_in / 60);
    let deadline = Instant::now() + Duration::from_secs(started.expires_in.max(1) as u64);
    let interval = Duration::from_secs(started.interval.max(1) as u64);
    loop {
        tokio::time::sleep(interval).await;
        match anonymous.poll_device_login(&started.device_code).await?.as_str() {
            "approved" => break,
            "pending" if Instant::now() < deadline => continue,
            "denied" => bail!("the sign-in was refused in the console"),
            _ => bail!("the code expired before it was confirmed: run midship login again"),
        }
    }
    let signed_in = AdminClient::new(&server, started.device_code.clone())?;
    let whoami = signed_in.whoami().await.context("signed in, but the server does not accept the session")?;
    let name = name.map(str::to_owned).unwrap_or_else(|| default_name(&server));
    let mut contexts = Contexts::load()?;
    let context = SavedContext { server, token: started.device_code, app: None, workspace: None };
    contexts.contexts.insert(name.clone(), context);
    contexts.current = Some(name.clone());
    contexts.save()?;
    println!("signed in as {} ({}); saved as context {name}, now current", whoami.actor_name, whoami.role);
    Ok(())
}

/// Ends the current context's session at the server and forgets it.
pub async fn logout(server: Option<&str>, token: Option<&str>) -> anyhow::Result<()> {
    let mut contexts = Contexts::load()?;
    let current = contexts.current().map(|(name, context)| (name.to_owned(), context.clone()));
    let (name, context) = match (server, token, current) {
        (Some(server), Some(token), _) => {
            (None, SavedContext { server: server.into(), token: token.into(), app: None, workspace: None })
        }
        (_, _, Some((name, context))) => (Some(name), context),
        _ => bail!("no current context to sign out of"),
    };
    if !context.token.starts_with(midship_core::secrets::SESSION_PREFIX) {
        bail!("this context holds an API token, not a person's session: revoke it with midship token revoke");
    }
    AdminClient::new(&context.server, context.token.clone())?.sign_out_session().await?;
    if let Some(name) = name {
        contexts.contexts.remove(&name);
        contexts.current = None;
        contexts.save()?;
        println!("signed out; context {name} removed");
    } else {
        println!("signed out");
    }
    Ok(())
}
