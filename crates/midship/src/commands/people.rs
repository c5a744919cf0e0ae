//! `person` commands: console accounts. A person is named by login or id.

use anyhow::Context;
use clap::Subcommand;
use midship_admin_client::{AdminClient, PageParams};
use midship_api::{CreatePersonRequest, PersonView, PersonWithPassword, UpdatePersonRequest};

use super::list_pages;
use super::resolve::Resolver;
use crate::cli::PageArgs;
use crate::output::{self, optional};

#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// Add a person; their temporary password is printed once.
    Create {
        /// What they type to sign in (an email address works).
        #[arg(long)]
        login: String,
        /// admin, developer, operator or viewer.
        #[arg(long)]
        role: String,
        /// Their name as the console shows it [default: the login].
        #[arg(long)]
        name: Option<String>,
        /// Limit the person to this app; repeat for several.
        #[arg(long = "app", value_delimiter = ',')]
        app_ids: Vec<String>,
    },
    List(PageArgs),
    Show {
        /// Login or person id.
        person: String,
    },
    /// Change role, apps, name, or disable an account.
    Update {
        /// Login or person id.
        person: String,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Limit to this app; repeat for several.
        #[arg(long = "app", value_delimiter = ',', conflicts_with = "all_apps")]
        app_ids: Vec<String>,
        /// Every app of the tenant.
        #[arg(long)]
        all_apps: bool,
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
    },
    /// Lost password or phone: a new temporary password, the authenticator app removed.
    Reset {
        /// Login or person id.
        person: String,
    },
    /// End every console session of the person.
    SignOut {
        /// Login or person id.
        person: String,
    },
}

/// The person's id, from a login or an id.
async fn person_id_of(client: &AdminClient, person: &str) -> anyhow::Result<String> {
    let looks_like_id = person.len() == 16 && person.bytes().all(|byte| byte.is_ascii_alphanumeric());
    if looks_like_id && !person.bytes().any(|byte| byte.is_ascii_lowercase()) {
        return Ok(person.to_owned());
    }
    let login = person.to_ascii_lowercase();
    let mut cursor = None;
    loop {
        let page = client.list_people(&PageParams { limit: Some(200), cursor }).await?;
        if let Some(found) = page.items.into_iter().find(|candidate| candidate.login == login) {
            return Ok(found.person_id);
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            anyhow::bail!("no person with login {login}");
        }
    }
}

fn print_person(person: &PersonView) {
    let apps = person.app_ids.as_ref().map(|apps| apps.join(",")).unwrap_or_else(|| "all".to_owned());
    println!(
        "person {} · login {} · {} · role {} · apps {}",
        person.person_id, person.login, person.display_name, person.role, apps
    );
    println!(
        "second factor {} · temporary password {} · locked until {} · disabled {}",
        person.second_factor,
        if person.password_must_change { "yes" } else { "no" },
        optional(person.locked_until.as_deref()),
        optional(person.disabled_at.as_deref())
    );
}

fn print_password(issued: &PersonWithPassword, what: &str) {
    println!("{what} {} ({}); the temporary password is shown only now:", issued.person.login, issued.person.person_id);
    println!("{}", issued.temporary_password);
    println!("at sign-in they choose their own password and set up an authenticator app");
}

pub async fn person(
    client: &AdminClient,
    resolve: &Resolver<'_>,
    command: PersonCommand,
    json: bool,
) -> anyhow::Result<()> {
    match command {
        PersonCommand::Create { login, role, name, app_ids } => {
            let app_ids = resolve.apps_of(&app_ids).await?;
            let request = CreatePersonRequest {
                display_name: name.unwrap_or_else(|| login.clone()),
                login,
                role,
                app_ids: if app_ids.is_empty() { None } else { Some(app_ids) },
            };
            let created = client.create_person(&request).await?;
            if json {
                return output::json(&created);
            }
            print_password(&created, "added");
        }
        PersonCommand::List(page) => {
            let people = list_pages(page, |params| async move { client.list_people(&params).await }).await?;
            if json {
                return output::json(&people);
            }
            let rows = people
                .items
                .iter()
                .map(|person| {
                    vec![
                        person.login.clone(),
                        person.display_name.clone(),
                        person.role.clone(),
                        person.app_ids.as_ref().map(|apps| apps.join(",")).unwrap_or_else(|| "all".to_owned()),
                        person.second_factor.clone(),
                        if person.disabled_at.is_some() { "disabled".to_owned() } else { "active".to_owned() },
                    ]
                })
                .collect::<Vec<_>>();
            output::table(&["login", "name", "role", "apps", "second factor", "state"], &rows);
        }
        PersonCommand::Show { person } => {
            let shown = client.get_person(&person_id_of(client, &person).await?).await?;
            if json {
                return output::json(&shown);
            }
            print_person(&shown);
        }
        PersonCommand::Update { person, role, name, app_ids, all_apps, disable, enable } => {
            let app_ids = resolve.apps_of(&app_ids).await?;
            let app_ids = match (all_apps, app_ids.is_empty()) {
                (true, _) => Some(None),
                (false, false) => Some(Some(app_ids)),
                (false, true) => None,
            };
            let disabled = (disable || enable).then_some(disable);
            let request = UpdatePersonRequest { display_name: name, role, app_ids, disabled };
            let id = person_id_of(client, &person).await?;
            let updated = client.update_person(&id, &request).await.context("cannot update the person")?;
            if json {
                return output::json(&updated);
            }
            print_person(&updated);
        }
        PersonCommand::Reset { person } => {
            let reset = client.reset_person(&person_id_of(client, &person).await?).await?;
            if json {
                return output::json(&reset);
            }
            print_password(&reset, "reset");
        }
        PersonCommand::SignOut { person } => {
            client.sign_out_person(&person_id_of(client, &person).await?).await?;
            if !json {
                println!("every session of {person} ended");
            }
        }
    }
    Ok(())
}
