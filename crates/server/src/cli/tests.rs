//! The command tree as a whole: every command says what it does and every argument has help.

use clap::CommandFactory;

use super::Cli;

/// Every command and argument below `cmd` lacking help, as `path: what`.
fn missing_help(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
    let path = format!("{path} {}", cmd.get_name()).trim().to_owned();
    if cmd
        .get_about()
        .is_none_or(|a| a.to_string().trim().is_empty())
    {
        missing.push(format!("{path}: no about"));
    }
    for arg in cmd.get_arguments() {
        let help = arg.get_help().or(arg.get_long_help());
        if help.is_none_or(|h| h.to_string().trim().is_empty()) {
            missing.push(format!("{path}: argument {} has no help", arg.get_id()));
        }
    }
    for sub in cmd.get_subcommands() {
        missing_help(sub, &path, missing);
    }
}

#[test]
fn every_command_and_argument_has_help() {
    let mut cmd = Cli::command();
    cmd.build();
    Cli::command().debug_assert();
    let mut missing = Vec::new();
    missing_help(&cmd, "", &mut missing);
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    // The walk reached the leaves.
    let admin = cmd.find_subcommand("admin").expect("admin");
    let users = admin.find_subcommand("users").expect("users");
    assert!(users.find_subcommand("set-password").is_some());
}

#[test]
fn passwords_are_never_arguments() {
    let cmd = Cli::command();
    let set_password = ["admin", "users", "set-password"]
        .iter()
        .try_fold(&cmd, |c, name| c.find_subcommand(name))
        .expect("set-password");
    let ids: Vec<&str> = set_password
        .get_arguments()
        .map(|a| a.get_id().as_str())
        .collect();
    assert!(ids.contains(&"password_stdin"), "{ids:?}");
    assert!(!ids.contains(&"password"), "{ids:?}");
}
