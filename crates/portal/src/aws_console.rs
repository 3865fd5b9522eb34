//! "Management console" for an `aws` account: an IdP-initiated SAML sign-in to AWS. The page
//! posts a signed Response to the AWS sign-in endpoint carrying exactly the one role chosen
//! (`docs/broker.md`, "AWS accounts"), so the person lands in that account's console in that
//! role; the account's console URL, when set, is the RelayState (where AWS sends them next).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use portcullis_auth::federation::CloudGrant;
use portcullis_auth::{PageError, Principal};
use portcullis_domain::cloud::cloud_session_seconds;
use portcullis_domain::{Account, AwsAccount, Federation};
use portcullis_store::{Entitlement, StoreError};

use crate::Portal;
use crate::accounts::console_signin_event;

/// The auto-posting page that signs `current` into `account`'s console as `role`.
pub(crate) async fn aws_console(
    portal: &Portal,
    current: &Principal,
    account: &Account,
    entitlement: &Entitlement,
    aws: &AwsAccount,
) -> Result<HttpResponse, PageError> {
    if aws.federation != Federation::Saml {
        return Err(PageError::portal(
            StatusCode::BAD_REQUEST,
            "No console sign-in here",
            format!(
                "{} federates by web identity, which has no console sign-in; ask your \
                 administrator for a console link",
                account.name
            ),
        ));
    }
    let permission_set = match portal
        .auth
        .directory
        .get_permission_set(entitlement.permission_set_id)
        .await
    {
        Ok(ps) => ps,
        Err(StoreError::NotFound(_)) => return Err(PageError::not_held()),
        Err(e) => return Err(e.into()),
    };
    let left = (current.session.expires_at - portal.auth.clock.now()).num_seconds();
    let role_arn = aws.role_arn_for(&account.id, &permission_set.name);
    let provider_arn = aws.provider_arn_for(&account.id, "");
    let grant = CloudGrant {
        user: &current.user,
        role_arn: &role_arn,
        provider_arn: &provider_arn,
        duration_seconds: cloud_session_seconds(permission_set.session_duration.seconds(), left),
        session_expires: current.session.expires_at,
        tags: aws.session_tags_for(&current.user),
    };
    let sign_in = aws.sign_in_url();
    let xml = portal
        .saml
        .aws_response_xml(&grant, &sign_in)
        .await
        .map_err(PageError::unavailable)?;
    let event = console_signin_event(
        current,
        account,
        &entitlement.role_name,
        serde_json::json!({
            "method": "saml",
            "roleArn": role_arn,
            "signIn": sign_in,
        }),
    );
    portal.auth.directory.record_event(event).await?;
    let relay = account.console_url.as_ref().map(|c| c.as_str());
    Ok(portcullis_saml::auto_post(
        &sign_in,
        "SAMLResponse",
        &xml,
        relay,
    ))
}
