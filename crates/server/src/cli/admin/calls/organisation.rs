//! `settings`, `tokens`, `keys` and `audit`: the organisation's own.

use reqwest::Method;

use super::super::commands::{AuditArgs, Keys, SettingsCmd, Tokens};
use super::{
    AUDIT_COLS, Call, KEY_COLS, TOKEN_COLS, View, body, delete, get, given, paged, post, rows, send,
};
use portcullis_admin::audit::AuditQuery;
use portcullis_admin::settings::{MfaView, SettingsView};
use portcullis_admin::tokens::CreateToken;

pub(super) fn settings(c: &SettingsCmd) -> Call {
    match c {
        SettingsCmd::Get => get("settings".into(), View::Record),
        SettingsCmd::Set {
            session_duration,
            mfa_prompt,
            mfa_types,
            mfa_no_device,
            email_otp,
        } => send(
            Method::PUT,
            "settings".into(),
            // The settings omitted keep their value; `mfa` only when an MFA option was given.
            Some(body(&SettingsView {
                session_duration: session_duration.clone(),
                mfa: given(MfaView {
                    prompt: mfa_prompt.clone(),
                    allowed_types: mfa_types.clone(),
                    no_device_action: mfa_no_device.clone(),
                }),
                email_otp: *email_otp,
            })),
            View::Record,
        ),
    }
}

pub(super) fn tokens(c: &Tokens) -> Call {
    match c {
        Tokens::List => rows("tokens".into(), "tokens", TOKEN_COLS),
        Tokens::Create { name, expires_in } => post(
            "tokens".into(),
            &CreateToken {
                name: Some(name.clone()),
                expires_in: expires_in.clone(),
            },
        ),
        Tokens::Revoke { token_id } => delete(format!("tokens/{token_id}"), "token revoked"),
    }
}

/// Both lists, the OIDC keys and then the SAML ones, in one table.
pub(super) fn keys(c: &Keys) -> Call {
    let view = View::List {
        key: "keys",
        columns: KEY_COLS,
    };
    let c = match c {
        Keys::List => get("keys".into(), view),
        Keys::Rotate => send(Method::POST, "keys/rotate".into(), None, view),
    };
    Call {
        also: Some("samlKeys"),
        ..c
    }
}

pub(super) fn audit(a: &AuditArgs) -> Call {
    paged(
        "audit-events".into(),
        "events",
        AUDIT_COLS,
        &a.paging,
        &AuditQuery {
            since: a.since.clone(),
            until: a.until.clone(),
            actor: a.actor.clone(),
            action: a.action.clone(),
            max_results: a.paging.max_results,
            next_token: a.paging.next_token.clone(),
        },
    )
}
