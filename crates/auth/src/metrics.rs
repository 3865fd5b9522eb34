//! Sign-in counters (OpenTelemetry metrics). The server hands in its `Meter`; without one every
//! call is a no-op. Attributes are fixed words only: never a user name, address or code.

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Meter, MeterProvider as _, NoopMeterProvider};

/// How one sign-in attempt ended (the `result` attribute of `portcullis.signin.attempts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigninResult {
    /// The sign-in finished: a portal session was created.
    Success,
    /// A wrong password or a wrong one-time password.
    Failure,
    /// Refused by the throttle before any check.
    Locked,
    /// An emailed one-time password or verification code was sent.
    CodeSent,
}

impl SigninResult {
    fn word(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Locked => "locked",
            Self::CodeSent => "code_sent",
        }
    }
}

/// The second factor checked (the `type` attribute of `portcullis.mfa.verifications`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaKind {
    Totp,
    Webauthn,
    Email,
}

impl MfaKind {
    fn word(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Webauthn => "webauthn",
            Self::Email => "email",
        }
    }
}

/// The sign-in instruments.
#[derive(Clone)]
pub struct SigninMetrics {
    attempts: Counter<u64>,
    mfa: Counter<u64>,
    sessions: Counter<u64>,
    tokens: Counter<u64>,
}

impl std::fmt::Debug for SigninMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigninMetrics").finish_non_exhaustive()
    }
}

impl SigninMetrics {
    pub fn new(meter: &Meter) -> Self {
        Self {
            attempts: meter
                .u64_counter("portcullis.signin.attempts")
                .with_description("Sign-in attempts by outcome")
                .with_unit("{attempt}")
                .build(),
            mfa: meter
                .u64_counter("portcullis.mfa.verifications")
                .with_description("Second-factor checks during sign-in, by type and result")
                .with_unit("{verification}")
                .build(),
            sessions: meter
                .u64_counter("portcullis.sessions.created")
                .with_description("Portal sessions created by a finished sign-in")
                .with_unit("{session}")
                .build(),
            tokens: meter
                .u64_counter("portcullis.tokens.issued")
                .with_description("Token requests by grant type and result")
                .with_unit("{request}")
                .build(),
        }
    }

    /// Instruments that record nothing.
    pub fn disabled() -> Self {
        Self::new(&NoopMeterProvider::new().meter("portcullis"))
    }

    pub fn signin(&self, result: SigninResult) {
        self.attempts
            .add(1, &[KeyValue::new("result", result.word())]);
    }

    pub fn mfa(&self, kind: MfaKind, accepted: bool) {
        self.mfa.add(
            1,
            &[
                KeyValue::new("type", kind.word()),
                KeyValue::new("result", if accepted { "success" } else { "failure" }),
            ],
        );
    }

    pub fn session_created(&self) {
        self.sessions.add(1, &[]);
    }

    /// A token-endpoint request for `grant` (a fixed grant-type word) ended.
    pub fn token(&self, grant: &'static str, issued: bool) {
        self.tokens.add(
            1,
            &[
                KeyValue::new("grant_type", grant),
                KeyValue::new("result", if issued { "success" } else { "failure" }),
            ],
        );
    }
}
