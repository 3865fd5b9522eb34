//! The sign-in as a value: where a pending sign-in stands ([`Stage`]) and the pure transitions
//! between stages ([`Pending::next`]) — no I/O, no HTTP. A handler loads the pending sign-in once,
//! checks the secret it was sent, asks `next` what follows from what happened, saves once and
//! answers (`crate::complete::advance`).
//!
//! username → password → (new password) → (emailed code | MFA | MFA registration) → done.

use portcullis_domain::UserId;
use portcullis_domain::{MfaDevice, MfaDeviceKind, MfaPolicy, MfaPrompt, MfaType, NoDeviceAction};
use serde::{Deserialize, Serialize};

/// Where a pending sign-in stands (the username is asked before a pending sign-in exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// Waiting for the password.
    Password,
    /// The person must choose a new password before going on.
    NewPassword,
    /// The MFA policy sent a verification code by email.
    VerificationCode,
    /// The person has an MFA device: waiting for it (`/signin/mfa`).
    Mfa,
    /// The policy requires a device and the person has none: registering one
    /// (`/signin/mfa/register`).
    MfaRegistration,
}

impl Stage {
    /// The page that serves this stage.
    pub fn page(self) -> &'static str {
        match self {
            Self::Password => "/signin/password",
            Self::NewPassword => "/signin/new-password",
            Self::VerificationCode => "/signin/code",
            Self::Mfa => "/signin/mfa",
            Self::MfaRegistration => "/signin/mfa/register",
        }
    }
}

/// A sign-in in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub user_name: String,
    /// Set once the person proved who they are with a first factor.
    pub user_id: Option<UserId>,
    pub stage: Stage,
    pub return_to: Option<String>,
    /// Authentication methods so far (RFC 8176: `pwd`, `otp`, `hwk`, `mfa`).
    pub amr: Vec<String>,
}

/// How a second factor was proven, used or registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    /// A code from an authenticator app (RFC 8176 `otp`).
    AuthenticatorApp,
    /// A security key or passkey (RFC 8176 `hwk`).
    SecurityKey,
}

impl Factor {
    fn amr(self) -> &'static str {
        match self {
            Self::AuthenticatorApp => "otp",
            Self::SecurityKey => "hwk",
        }
    }
}

/// What the MFA policy and this browser say about a second factor for this person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub prompt: MfaPrompt,
    pub no_device: NoDeviceAction,
    /// The browser carries a valid trusted-device cookie for the person.
    pub trusted_device: bool,
    /// The person has a device the policy allows (only looked up when [`Policy::prompts`]).
    pub usable_device: bool,
}

impl Policy {
    /// Whether the policy asks this browser for a second factor at all.
    pub fn prompts(prompt: MfaPrompt, trusted_device: bool) -> bool {
        match prompt {
            MfaPrompt::Never => false,
            MfaPrompt::ContextChange => !trusted_device,
            MfaPrompt::EverySignIn => true,
        }
    }
}

/// Whether the policy lets this device be used.
pub fn usable(policy: &MfaPolicy, device: &MfaDevice) -> bool {
    match device.kind {
        MfaDeviceKind::AuthenticatorApp => policy.allows(MfaType::AuthenticatorApp),
        MfaDeviceKind::Webauthn => policy.allows(MfaType::Webauthn),
    }
}

/// What happened at the current stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The password matched; `must_change` when it was a one-time password an administrator set.
    PasswordVerified {
        user: UserId,
        must_change: bool,
        mfa: Policy,
    },
    /// The emailed one-time password of a first sign-in matched.
    FirstOtpRedeemed { user: UserId },
    /// The person chose a new password.
    NewPasswordSet { mfa: Policy },
    /// The emailed verification code matched.
    CodeVerified,
    /// A second factor was used (at `Mfa`) or registered (at `MfaRegistration`).
    SecondFactor(Factor),
    /// A wrong code, its try already counted ([`tries`]); `tries_left` after it.
    WrongCode { tries_left: u32 },
}

/// What follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// On to `pending.stage`: save it and send the browser to the stage's page (for
    /// `VerificationCode`, once the code is emailed).
    To(Pending),
    /// The same stage again: its form, saying how many tries are left.
    Retry { pending: Pending, tries_left: u32 },
    /// Signed in: create the portal session.
    Done(Pending),
    /// The policy requires a device, the person has none and may not register one.
    Blocked,
    /// The sign-in starts over (tries used up, or an event this stage does not expect).
    StartOver,
}

/// What [`tries`] decided before a code is checked (used up: the sign-in starts over).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Try {
    /// Check the code; if it is wrong, this many tries are left.
    Go { left_if_wrong: u32 },
    /// The tries are used up: the sign-in starts over.
    UsedUp,
}

/// The `count`th try at a stage (counted before checking) of `allowed`.
pub fn tries(count: u64, allowed: u32) -> Try {
    let allowed = u64::from(allowed);
    if count > allowed {
        Try::UsedUp
    } else {
        Try::Go {
            left_if_wrong: u32::try_from(allowed - count).unwrap_or(0),
        }
    }
}

impl Pending {
    /// A sign-in that has its username and waits for the password.
    pub fn start(user_name: String, return_to: Option<String>) -> Self {
        Self {
            user_name,
            user_id: None,
            stage: Stage::Password,
            return_to,
            amr: Vec::new(),
        }
    }

    pub fn has(&self, method: &str) -> bool {
        self.amr.iter().any(|m| m == method)
    }

    /// The stage that follows `event` at the current stage.
    pub fn next(mut self, event: Event) -> Transition {
        match (self.stage, event) {
            (
                Stage::Password,
                Event::PasswordVerified {
                    user,
                    must_change,
                    mfa,
                },
            ) => {
                self.user_id = Some(user);
                self.amr.push("pwd".into());
                if must_change {
                    self.at(Stage::NewPassword)
                } else {
                    self.after_first_factor(&mfa)
                }
            }
            (Stage::Password, Event::FirstOtpRedeemed { user }) => {
                self.user_id = Some(user);
                self.amr.push("otp".into());
                self.at(Stage::NewPassword)
            }
            (Stage::NewPassword, Event::NewPasswordSet { mfa }) => self.after_first_factor(&mfa),
            (Stage::VerificationCode, Event::CodeVerified) => {
                self.amr.extend(["otp".to_owned(), "mfa".to_owned()]);
                Transition::Done(self)
            }
            (Stage::Mfa | Stage::MfaRegistration, Event::SecondFactor(factor)) => {
                self.amr.extend([factor.amr().to_owned(), "mfa".to_owned()]);
                Transition::Done(self)
            }
            (
                Stage::VerificationCode | Stage::Mfa | Stage::MfaRegistration,
                Event::WrongCode { tries_left },
            ) if tries_left > 0 => Transition::Retry {
                pending: self,
                tries_left,
            },
            _ => Transition::StartOver,
        }
    }

    fn at(mut self, stage: Stage) -> Transition {
        self.stage = stage;
        Transition::To(self)
    }

    /// The first factor is done (a password, or a one-time password and a new password): the
    /// MFA policy decides.
    fn after_first_factor(self, mfa: &Policy) -> Transition {
        if !Policy::prompts(mfa.prompt, mfa.trusted_device) {
            return Transition::Done(self);
        }
        if mfa.usable_device {
            return self.at(Stage::Mfa);
        }
        match mfa.no_device {
            NoDeviceAction::Allow => Transition::Done(self),
            NoDeviceAction::Block => Transition::Blocked,
            NoDeviceAction::RequireRegistration => self.at(Stage::MfaRegistration),
            // The emailed one-time password already proved control of the mailbox.
            NoDeviceAction::EmailCode if self.has("otp") => Transition::Done(self),
            NoDeviceAction::EmailCode => self.at(Stage::VerificationCode),
        }
    }
}

#[cfg(test)]
mod tests;
