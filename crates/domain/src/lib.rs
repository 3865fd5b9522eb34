//! Portcullis domain types: every value with a rule is a type whose constructor checks the rule
//! ("parse, don't validate"). Nothing here does I/O, async work or knows about the web.

pub mod account;
pub mod admin_token;
pub mod application;
pub mod assignment;
pub mod audit;
pub mod cloud;
pub mod consent;
pub mod credentials;
pub mod duration;
pub mod error;
pub mod group;
pub mod ids;
pub mod oidc;
pub mod page;
pub mod permission_set;
pub mod saml;
pub mod settings;
pub mod text;
pub mod user;

pub use account::{Account, AccountId, ConsoleUrl, NewAccount};
pub use admin_token::{AdminToken, NewAdminToken};
pub use application::{Application, ApplicationKind, NewApplication};
pub use assignment::{AccountAssignment, ApplicationAssignment, Principal, PrincipalType};
pub use audit::{Actor, AuditEvent, AuditFilter, NewAuditEvent};
pub use cloud::{
    AccountKind, Arn, AwsAccount, AwsRegion, CloudPolicies, Federation, ProvisioningConnection,
    ProvisioningRecord, ProvisioningState, RoleArnTemplate, StsEndpoint, TagKey, TagTemplate,
    TokenAudience,
};
pub use consent::Consent;
pub use credentials::{MfaDevice, MfaDeviceId, MfaDeviceKind, NewMfaDevice, PasswordRecord};
pub use error::{FieldErrors, ValidationError};
pub use group::{Group, GroupName, NewGroup};
pub use ids::{AdminTokenId, ApplicationId, GroupId, PermissionSetId, UserId};
pub use oidc::{
    ClientType, GrantType, OidcSettings, RedirectUri, RefreshTokenLifetime, Scope,
    SigningAlgorithm, TokenLifetime,
};
pub use page::{Page, PageRequest, PageSize};
pub use permission_set::{NewPermissionSet, PermissionSet, PermissionSetDuration, RoleName};
pub use saml::{
    AssertionConsumerService, AssertionLifetime, AttributeMapping, MAX_ENTITY_ID_BYTES,
    NameIdFormat, SamlBinding, SamlSettings, SamlUrl, SignedPart,
};
pub use settings::{MfaPolicy, MfaPrompt, MfaType, NoDeviceAction, SessionLifetime, Settings};
pub use text::{Description, DisplayName, Email, PersonName, UserName};
pub use user::{NewUser, User, UserAttributes, UserPatch, user_field};
