//! `portcullis admin …`: every admin API resource from the command line. Each subcommand becomes
//! one HTTP call; the answer prints as a table (lists), `key value` lines (one object) or JSON.

mod calls;
mod cloud_args;
mod commands;
mod provisioning_args;
mod registration;
mod resolve;

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde::Deserialize;
use serde_json::Value;

use super::output::{record, table};
use crate::bootstrap::BOOTSTRAP_TOKEN_FILE;
use crate::config::Config;
use calls::{Call, View, call, get};
use commands::{Resource, Users};
use portcullis_admin::applications::{ClientSecretView, CreatedApplication};
use portcullis_admin::error::ErrorBody;
use registration::merge_registration;

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Base URL of Portcullis (default: the configured public URL).
    #[arg(long, env = "PORTCULLIS_URL")]
    url: Option<String>,
    /// Admin token (default: PORTCULLIS_ADMIN_TOKEN, --token-file, or the bootstrap token file in
    /// the data directory).
    #[arg(long, env = "PORTCULLIS_ADMIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Read the admin token from this file.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    resource: Resource,
}

/// The password of `users set-password`: the first line of standard input with
/// `--password-stdin`, else a prompt that does not echo (asked twice) when standard input is a
/// terminal. Never an argument, which other users of the machine could read from the process
/// list and which lands in shell history.
fn read_password(from_stdin: bool) -> Result<secrecy::SecretString, String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        line.strip_suffix('\r').unwrap_or(line).to_owned()
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password: ")
            .map_err(|e| format!("cannot read the password: {e}"))?;
        let again = rpassword::prompt_password("Repeat it: ")
            .map_err(|e| format!("cannot read the password: {e}"))?;
        if first != again {
            return Err("the passwords differ; nothing was changed".into());
        }
        first
    } else {
        return Err(
            "standard input is not a terminal: pass --password-stdin to read the \
                    password from it"
                .into(),
        );
    };
    if password.is_empty() {
        return Err(if from_stdin {
            "no password on standard input (--password-stdin reads its first line)".into()
        } else {
            "the password is empty; nothing was changed".into()
        });
    }
    Ok(password.into())
}

/// Where to send calls and with which token.
fn endpoint(config_file: Option<&Path>, args: &AdminArgs) -> Result<(String, String), String> {
    let config = Config::load(config_file).ok();
    let url = args
        .url
        .clone()
        .or_else(|| config.as_ref().map(|c| c.public_base().to_owned()))
        .unwrap_or_else(|| "http://localhost:8080".into());
    let token = if let Some(t) = &args.token {
        t.clone()
    } else if let Some(f) = &args.token_file {
        std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?
    } else {
        let dir = config
            .map(|c| c.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let path = dir.join(BOOTSTRAP_TOKEN_FILE);
        std::fs::read_to_string(&path).map_err(|_| {
            format!(
                "no admin token: pass --token, set PORTCULLIS_ADMIN_TOKEN, or use --token-file \
                 (no {} found)",
                path.display()
            )
        })?
    };
    Ok((
        url.trim_end_matches('/').to_owned(),
        token.trim().to_owned(),
    ))
}

async fn execute(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    c: &Call,
    next: Option<&str>,
) -> Result<Value, String> {
    let mut query = c.query.clone();
    if let Some(t) = next {
        query.retain(|(k, _)| k != "nextToken");
        query.push(("nextToken".into(), t.to_owned()));
    }
    let mut req = client
        .request(c.method.clone(), format!("{base}/admin/v1/{}", c.path))
        .bearer_auth(token)
        .query(&query);
    if let Some(body) = &c.body {
        req = req.json(body);
    }
    if let Some(file) = &c.upload {
        let bytes =
            std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        req = req
            .header(reqwest::header::CONTENT_TYPE, image_type(&bytes))
            .body(bytes);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("cannot reach {base}: {e}"))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?;
    let body: Value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    if status.is_success() {
        return Ok(body);
    }
    // The admin API's error body; anything else (a proxy's page) says only that it failed.
    let error = ErrorBody::deserialize(&body).ok();
    let mut msg = format!(
        "{} ({})",
        error
            .as_ref()
            .map_or("request failed", |e| e.message.as_str()),
        status.as_u16()
    );
    for f in error.iter().flat_map(|e| &e.fields) {
        msg.push_str(&format!("\n  {}: {}", f.field, f.message));
    }
    Err(msg)
}

/// The image type an upload's first bytes show (the server checks them again, and refuses
/// anything but PNG and JPEG).
fn image_type(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(b"\xFF\xD8\xFF") {
        "image/jpeg"
    } else {
        "application/octet-stream"
    }
}

/// Whether the answer holds a client secret, which is shown only this once: a created
/// confidential client, or a new secret.
fn shows_secret(answer: &Value) -> bool {
    CreatedApplication::deserialize(answer).is_ok_and(|a| a.client_secret.is_some())
        || ClientSecretView::deserialize(answer).is_ok()
}

pub async fn run(config_file: Option<&Path>, mut args: AdminArgs) -> ExitCode {
    let (base, token) = match endpoint(config_file, &args) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // Names first, so that a mistyped name fails before a password is asked for.
    let client = reqwest::Client::new();
    if let Err(e) = resolve::resolve(&client, &base, &token, &mut args.resource).await {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    if let Resource::Users(Users::SetPassword {
        password_stdin,
        password,
        ..
    }) = &mut args.resource
    {
        match read_password(*password_stdin) {
            Ok(p) => *password = Some(p),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let mut c = call(&args.resource);
    if let Some(path) = c.merge_from.take() {
        let current = match execute(&client, &base, &token, &get(path, View::Record), None).await {
            Ok(v) => v,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Some(body) = c.body.as_mut() {
            merge_registration(&current, body);
        }
    }
    let mut answer = match execute(&client, &base, &token, &c, None).await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let (true, View::List { key, .. }) = (c.all, &c.view) {
        while let Some(next) = answer
            .get("nextToken")
            .and_then(Value::as_str)
            .map(str::to_owned)
        {
            match execute(&client, &base, &token, &c, Some(&next)).await {
                Ok(mut more) => {
                    let extra = more.get_mut(*key).map(Value::take).unwrap_or(Value::Null);
                    if let (Some(items), Value::Array(extra)) =
                        (answer.get_mut(*key).and_then(Value::as_array_mut), extra)
                    {
                        items.extend(extra);
                    }
                    answer["nextToken"] = more.get("nextToken").cloned().unwrap_or(Value::Null);
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    if shows_secret(&answer) {
        eprintln!("note: the client secret is shown only this once; store it now");
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    match c.view {
        View::List { key, columns } => {
            let rows: Vec<Value> = [Some(key), c.also]
                .into_iter()
                .flatten()
                .filter_map(|k| answer.get(k).and_then(Value::as_array))
                .flatten()
                .cloned()
                .collect();
            print!("{}", table(&rows, columns));
            if let Some(t) = answer.get("nextToken").and_then(Value::as_str) {
                eprintln!("more results: --next-token {t}");
            }
        }
        View::Record => print!("{}", record(&answer)),
        View::Done(what) => println!("{what}"),
    }
    ExitCode::SUCCESS
}
