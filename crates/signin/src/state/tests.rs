//! The sign-in's transitions, without HTTP or stores: every path of the MFA policy.

use super::*;

fn user() -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u128(7))
}

fn at_password() -> Pending {
    Pending::start("ana".into(), Some("/portal?tab=apps".into()))
}

fn policy(prompt: MfaPrompt, no_device: NoDeviceAction) -> Policy {
    Policy {
        prompt,
        no_device,
        trusted_device: false,
        usable_device: false,
    }
}

fn password(pending: Pending, mfa: Policy) -> Transition {
    pending.next(Event::PasswordVerified {
        user: user(),
        must_change: false,
        mfa,
    })
}

fn stage_of(t: &Transition) -> Option<Stage> {
    match t {
        Transition::To(p) => Some(p.stage),
        _ => None,
    }
}

fn done_amr(t: Transition) -> Vec<String> {
    match t {
        Transition::Done(p) => p.amr,
        other => panic!("not done: {other:?}"),
    }
}

const ALL_ACTIONS: [NoDeviceAction; 4] = [
    NoDeviceAction::Allow,
    NoDeviceAction::Block,
    NoDeviceAction::RequireRegistration,
    NoDeviceAction::EmailCode,
];

#[test]
fn never_prompting_signs_in_with_the_password_alone() {
    for action in ALL_ACTIONS {
        let mut mfa = policy(MfaPrompt::Never, action);
        mfa.usable_device = true;
        let t = password(at_password(), mfa);
        match t {
            Transition::Done(p) => {
                assert_eq!(p.amr, ["pwd"]);
                assert_eq!(p.user_id, Some(user()));
                assert_eq!(p.return_to.as_deref(), Some("/portal?tab=apps"));
            }
            other => panic!("{action:?}: {other:?}"),
        }
    }
}

#[test]
fn a_usable_device_is_asked_for() {
    for prompt in [MfaPrompt::EverySignIn, MfaPrompt::ContextChange] {
        for action in ALL_ACTIONS {
            let mut mfa = policy(prompt, action);
            mfa.usable_device = true;
            assert_eq!(stage_of(&password(at_password(), mfa)), Some(Stage::Mfa));
        }
    }
}

#[test]
fn a_trusted_device_skips_mfa_only_when_the_context_did_not_change() {
    let mut mfa = policy(MfaPrompt::ContextChange, NoDeviceAction::Block);
    mfa.usable_device = true;
    mfa.trusted_device = true;
    assert_eq!(done_amr(password(at_password(), mfa)), ["pwd"]);

    mfa.prompt = MfaPrompt::EverySignIn;
    assert_eq!(stage_of(&password(at_password(), mfa)), Some(Stage::Mfa));
}

#[test]
fn without_a_device_the_policy_decides() {
    for prompt in [MfaPrompt::EverySignIn, MfaPrompt::ContextChange] {
        let go = |action| password(at_password(), policy(prompt, action));
        assert_eq!(done_amr(go(NoDeviceAction::Allow)), ["pwd"]);
        assert_eq!(go(NoDeviceAction::Block), Transition::Blocked);
        assert_eq!(
            stage_of(&go(NoDeviceAction::RequireRegistration)),
            Some(Stage::MfaRegistration)
        );
        assert_eq!(
            stage_of(&go(NoDeviceAction::EmailCode)),
            Some(Stage::VerificationCode)
        );
    }
}

#[test]
fn a_one_time_password_from_an_administrator_asks_for_a_new_password_first() {
    let t = at_password().next(Event::PasswordVerified {
        user: user(),
        must_change: true,
        mfa: policy(MfaPrompt::Never, NoDeviceAction::Allow),
    });
    let Transition::To(p) = t else {
        panic!("{t:?}")
    };
    assert_eq!(p.stage, Stage::NewPassword);
    assert_eq!(p.amr, ["pwd"]);
    let t = p.next(Event::NewPasswordSet {
        mfa: policy(MfaPrompt::EverySignIn, NoDeviceAction::EmailCode),
    });
    assert_eq!(stage_of(&t), Some(Stage::VerificationCode));
}

#[test]
fn a_first_sign_in_redeems_the_emailed_password_then_chooses_one() {
    let t = at_password().next(Event::FirstOtpRedeemed { user: user() });
    let Transition::To(p) = t else {
        panic!("{t:?}")
    };
    assert_eq!((p.stage, p.user_id), (Stage::NewPassword, Some(user())));
    assert_eq!(p.amr, ["otp"]);

    // The emailed one-time password already proved the mailbox: no second emailed code.
    let email = policy(MfaPrompt::EverySignIn, NoDeviceAction::EmailCode);
    assert_eq!(
        done_amr(p.clone().next(Event::NewPasswordSet { mfa: email })),
        ["otp"]
    );
    // Other actions still apply.
    let register = policy(MfaPrompt::EverySignIn, NoDeviceAction::RequireRegistration);
    assert_eq!(
        stage_of(&p.clone().next(Event::NewPasswordSet { mfa: register })),
        Some(Stage::MfaRegistration)
    );
    let mut device = email;
    device.usable_device = true;
    assert_eq!(
        stage_of(&p.next(Event::NewPasswordSet { mfa: device })),
        Some(Stage::Mfa)
    );
}

fn at(stage: Stage) -> Pending {
    Pending {
        user_id: Some(user()),
        stage,
        amr: vec!["pwd".into()],
        ..at_password()
    }
}

#[test]
fn second_factors_finish_with_their_methods() {
    assert_eq!(
        done_amr(at(Stage::VerificationCode).next(Event::CodeVerified)),
        ["pwd", "otp", "mfa"]
    );
    for stage in [Stage::Mfa, Stage::MfaRegistration] {
        assert_eq!(
            done_amr(at(stage).next(Event::SecondFactor(Factor::AuthenticatorApp))),
            ["pwd", "otp", "mfa"]
        );
        assert_eq!(
            done_amr(at(stage).next(Event::SecondFactor(Factor::SecurityKey))),
            ["pwd", "hwk", "mfa"]
        );
    }
}

#[test]
fn wrong_codes_retry_until_the_tries_are_used_up() {
    for stage in [Stage::VerificationCode, Stage::Mfa, Stage::MfaRegistration] {
        assert_eq!(
            at(stage).next(Event::WrongCode { tries_left: 2 }),
            Transition::Retry {
                pending: at(stage),
                tries_left: 2
            }
        );
        assert_eq!(
            at(stage).next(Event::WrongCode { tries_left: 0 }),
            Transition::StartOver
        );
    }
}

#[test]
fn tries_are_counted_before_checking() {
    assert_eq!(tries(1, 5), Try::Go { left_if_wrong: 4 });
    assert_eq!(tries(5, 5), Try::Go { left_if_wrong: 0 });
    assert_eq!(tries(6, 5), Try::UsedUp);
    assert_eq!(tries(1, 0), Try::UsedUp);
}

#[test]
fn an_event_out_of_its_stage_starts_over() {
    let mfa = policy(MfaPrompt::Never, NoDeviceAction::Allow);
    assert_eq!(
        at_password().next(Event::CodeVerified),
        Transition::StartOver
    );
    assert_eq!(
        at(Stage::Mfa).next(Event::CodeVerified),
        Transition::StartOver
    );
    assert_eq!(
        at(Stage::VerificationCode).next(Event::SecondFactor(Factor::SecurityKey)),
        Transition::StartOver
    );
    assert_eq!(
        at(Stage::Mfa).next(Event::PasswordVerified {
            user: user(),
            must_change: false,
            mfa
        }),
        Transition::StartOver
    );
    assert_eq!(
        at(Stage::Password).next(Event::WrongCode { tries_left: 3 }),
        Transition::StartOver
    );
    assert_eq!(
        at_password().next(Event::NewPasswordSet { mfa }),
        Transition::StartOver
    );
}

#[test]
fn stages_name_their_pages() {
    assert_eq!(Stage::Password.page(), "/signin/password");
    assert_eq!(Stage::NewPassword.page(), "/signin/new-password");
    assert_eq!(Stage::VerificationCode.page(), "/signin/code");
    assert_eq!(Stage::Mfa.page(), "/signin/mfa");
    assert_eq!(Stage::MfaRegistration.page(), "/signin/mfa/register");
}
