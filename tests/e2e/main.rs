//! End-to-end tests: each test spawns a real Portcullis on port 0 (on SQLite and on a fresh
//! PostgreSQL database) and drives it over HTTP as an operator's tools would.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod admin_api;
mod app_icons;
mod aws_accounts;
mod bad_input;
mod broker;
mod broker_sigv4;
mod helpers;
mod mfa_totp;
mod mfa_webauthn;
mod oidc;
mod oidc_admin;
mod oidc_device;
mod oidc_keys;
mod oidc_negative;
mod oidc_refresh;
mod oidc_rp;
mod oidc_support;
mod openapi;
mod portal_accounts;
mod saml;
mod saml_launch;
mod saml_logout;
mod saml_redirect;
mod saml_signing;
mod saml_wrapping;
mod security_oidc;
mod security_signin;
mod signin;
