//! `users` and `groups`.

use reqwest::Method;
use secrecy::ExposeSecret;

use super::super::commands::{Groups, Users};
use super::{
    Call, DEVICE_COLS, GROUP_COLS, SESSION_COLS, USER_COLS, View, body, delete, get, list, patch,
    post, rows, send,
};
use portcullis_admin::groups::GroupBody;
use portcullis_admin::sessions::{OneTimePasswordRequest, SetPassword};
use portcullis_admin::users::{CreateUser, PatchUser};

pub(super) fn users(c: &Users) -> Call {
    match c {
        Users::List(p) => list("users".into(), "users", USER_COLS, p),
        Users::Get { user_id } => get(format!("users/{user_id}"), View::Record),
        Users::Create {
            user_name,
            email,
            display_name,
            given_name,
            family_name,
            disabled,
            attributes,
        } => post(
            "users".into(),
            &CreateUser {
                user_name: Some(user_name.clone()),
                email: Some(email.clone()),
                display_name: display_name.clone(),
                given_name: given_name.clone(),
                family_name: family_name.clone(),
                enabled: Some(!disabled),
                attributes: (!attributes.is_empty()).then(|| attributes.iter().cloned().collect()),
            },
        ),
        Users::Update {
            user_id,
            user_name,
            email,
            display_name,
            given_name,
            family_name,
            enabled,
            attributes,
            clear_attributes,
        } => patch(
            format!("users/{user_id}"),
            &PatchUser {
                user_name: user_name.clone(),
                email: email.clone(),
                display_name: display_name.clone(),
                given_name: given_name.clone().map(Some),
                family_name: family_name.clone().map(Some),
                enabled: *enabled,
                attributes: if *clear_attributes {
                    Some(Default::default())
                } else {
                    (!attributes.is_empty()).then(|| attributes.iter().cloned().collect())
                },
            },
        ),
        Users::Enable { user_id } => enable(user_id, true),
        Users::Disable { user_id } => enable(user_id, false),
        Users::Delete { user_id } => delete(format!("users/{user_id}"), "user deleted"),
        Users::Sessions { user_id } => rows(
            format!("users/{user_id}/sessions"),
            "sessions",
            SESSION_COLS,
        ),
        Users::RevokeSessions {
            user_id,
            session_id,
        } => match session_id {
            Some(sid) => delete(format!("users/{user_id}/sessions/{sid}"), "session ended"),
            None => send(
                Method::DELETE,
                format!("users/{user_id}/sessions"),
                None,
                View::Record,
            ),
        },
        // Temporary unless --permanent: the admin API's default.
        Users::SetPassword {
            user_id,
            password,
            permanent,
            ..
        } => send(
            Method::PUT,
            format!("users/{user_id}/password"),
            Some(body(&SetPassword {
                password: password.as_ref().map(|p| p.expose_secret().to_owned()),
                temporary: Some(!permanent),
            })),
            View::Done("password set"),
        ),
        Users::OneTimePassword { user_id, email } => post(
            format!("users/{user_id}/one-time-password"),
            &OneTimePasswordRequest {
                delivery: Some(if *email { "EMAIL" } else { "RETURN" }.into()),
            },
        ),
        Users::MfaDevices { user_id } => rows(
            format!("users/{user_id}/mfa-devices"),
            "devices",
            DEVICE_COLS,
        ),
        Users::RemoveMfaDevice { user_id, device_id } => delete(
            format!("users/{user_id}/mfa-devices/{device_id}"),
            "device removed",
        ),
        Users::Groups { user_id } => rows(format!("users/{user_id}/groups"), "groups", GROUP_COLS),
    }
}

fn enable(user_id: &str, enabled: bool) -> Call {
    patch(
        format!("users/{user_id}"),
        &PatchUser {
            enabled: Some(enabled),
            ..PatchUser::default()
        },
    )
}

pub(super) fn groups(c: &Groups) -> Call {
    match c {
        Groups::List(p) => list("groups".into(), "groups", GROUP_COLS, p),
        Groups::Get { group_id } => get(format!("groups/{group_id}"), View::Record),
        Groups::Create {
            display_name,
            description,
        } => post(
            "groups".into(),
            &GroupBody {
                display_name: Some(display_name.clone()),
                description: description.clone(),
            },
        ),
        Groups::Update {
            group_id,
            display_name,
            description,
        } => patch(
            format!("groups/{group_id}"),
            &GroupBody {
                display_name: display_name.clone(),
                description: description.clone(),
            },
        ),
        Groups::Delete { group_id } => delete(format!("groups/{group_id}"), "group deleted"),
        Groups::Members { group_id, paging } => list(
            format!("groups/{group_id}/members"),
            "users",
            USER_COLS,
            paging,
        ),
        Groups::AddMember { group_id, user_id } => send(
            Method::PUT,
            format!("groups/{group_id}/members/{user_id}"),
            None,
            View::Done("member added"),
        ),
        Groups::RemoveMember { group_id, user_id } => delete(
            format!("groups/{group_id}/members/{user_id}"),
            "member removed",
        ),
    }
}
