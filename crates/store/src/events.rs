//! The audit events each directory change writes, named once so both backends agree.
//! Actions are `<noun>.<verb>`; targets are `<noun>:<id>`.

use portcullis_domain::{
    AccountAssignment, AccountId, Actor, AdminTokenId, ApplicationAssignment, ApplicationId,
    GroupId, MfaDeviceId, MfaDeviceKind, NewAuditEvent, PermissionSetId, UserId,
};

pub fn user(actor: Actor, verb: &str, id: UserId) -> NewAuditEvent {
    NewAuditEvent::new(actor, format!("user.{verb}"), format!("user:{id}"))
}

pub fn group(actor: Actor, verb: &str, id: GroupId) -> NewAuditEvent {
    NewAuditEvent::new(actor, format!("group.{verb}"), format!("group:{id}"))
}

pub fn membership(actor: Actor, verb: &str, group: GroupId, user: UserId) -> NewAuditEvent {
    NewAuditEvent::new(
        actor,
        format!("group.member.{verb}"),
        format!("group:{group}"),
    )
    .with_details(format!(r#"{{"userId":"{user}"}}"#))
}

pub fn account(actor: Actor, verb: &str, id: &AccountId) -> NewAuditEvent {
    NewAuditEvent::new(actor, format!("account.{verb}"), format!("account:{id}"))
}

pub fn permission_set(actor: Actor, verb: &str, id: PermissionSetId) -> NewAuditEvent {
    NewAuditEvent::new(
        actor,
        format!("permission-set.{verb}"),
        format!("permission-set:{id}"),
    )
}

pub fn assignment(actor: Actor, verb: &str, a: &AccountAssignment) -> NewAuditEvent {
    NewAuditEvent::new(
        actor,
        format!("assignment.{verb}"),
        format!("account:{}", a.account_id),
    )
    .with_details(format!(
        r#"{{"permissionSetId":"{}","principalType":"{}","principalId":"{}"}}"#,
        a.permission_set_id,
        a.principal.principal_type(),
        a.principal.uuid()
    ))
}

pub fn application(actor: Actor, verb: &str, id: ApplicationId) -> NewAuditEvent {
    NewAuditEvent::new(
        actor,
        format!("application.{verb}"),
        format!("application:{id}"),
    )
}

/// A confidential client's secret set or replaced. No details: never the secret or its hash.
pub fn client_secret(actor: Actor, id: ApplicationId) -> NewAuditEvent {
    NewAuditEvent::new(
        actor,
        "application.client-secret.set",
        format!("application:{id}"),
    )
}

/// An application's icon set, replaced (`set`) or removed (`delete`). Details carry the
/// content type and size only, never the image.
pub fn application_icon(
    actor: Actor,
    verb: &str,
    id: ApplicationId,
    icon: Option<(&str, usize)>,
) -> NewAuditEvent {
    let event = NewAuditEvent::new(
        actor,
        format!("application.icon.{verb}"),
        format!("application:{id}"),
    );
    match icon {
        Some((content_type, size)) => event.with_details(
            serde_json::json!({ "contentType": content_type, "size": size }).to_string(),
        ),
        None => event,
    }
}

pub fn application_assignment(
    actor: Actor,
    verb: &str,
    a: &ApplicationAssignment,
) -> NewAuditEvent {
    NewAuditEvent::new(
        actor,
        format!("application.assignment.{verb}"),
        format!("application:{}", a.application_id),
    )
    .with_details(format!(
        r#"{{"principalType":"{}","principalId":"{}"}}"#,
        a.principal.principal_type(),
        a.principal.uuid()
    ))
}

/// `verb`: `put` or `delete`.
pub fn provisioning_connection(actor: Actor, verb: &str) -> NewAuditEvent {
    NewAuditEvent::new(
        actor,
        format!("provisioning-connection.{verb}"),
        "provisioning-connection",
    )
}

pub fn settings(actor: Actor) -> NewAuditEvent {
    NewAuditEvent::new(actor, "settings.update", "settings")
}

pub fn signing_key(actor: Actor, verb: &str, kid: &str) -> NewAuditEvent {
    NewAuditEvent::new(
        actor,
        format!("signing-key.{verb}"),
        format!("signing-key:{kid}"),
    )
}

pub fn admin_token(actor: Actor, verb: &str, id: AdminTokenId) -> NewAuditEvent {
    NewAuditEvent::new(
        actor,
        format!("admin-token.{verb}"),
        format!("admin-token:{id}"),
    )
}

/// A password set (or replaced) by `actor`. The details say whether it must change at the next
/// sign-in; never the hash.
pub fn password(actor: Actor, user: UserId, must_change: bool) -> NewAuditEvent {
    NewAuditEvent::new(actor, "user.password.set", format!("user:{user}"))
        .with_details(format!(r#"{{"mustChange":{must_change}}}"#))
}

/// An MFA device registered, renamed or removed. The details name the device and its kind; never
/// its secret or credential.
pub fn mfa_device(
    actor: Actor,
    verb: &str,
    user: UserId,
    id: MfaDeviceId,
    kind: MfaDeviceKind,
) -> NewAuditEvent {
    NewAuditEvent::new(
        actor,
        format!("user.mfa-device.{verb}"),
        format!("user:{user}"),
    )
    .with_details(format!(
        r#"{{"deviceId":"{id}","kind":"{}"}}"#,
        kind.as_str()
    ))
}

pub fn consent(actor: Actor, verb: &str, user: UserId, client_id: &str) -> NewAuditEvent {
    NewAuditEvent::new(
        actor,
        format!("user.consent.{verb}"),
        format!("user:{user}"),
    )
    .with_details(serde_json::json!({ "clientId": client_id }).to_string())
}
