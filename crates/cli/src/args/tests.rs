use super::*;
use clap::CommandFactory;

#[test]
fn cli_definition_is_consistent() {
    Cli::command().debug_assert();
}

/// Every variable cliffload reads may hold a secret (a URL with a
/// password, a password, a token): help must name it, never show its
/// value (issue 26).
#[test]
fn no_argument_shows_its_environment_value_in_help() {
    fn walk(c: &clap::Command, path: &str, found: &mut Vec<String>) {
        for a in c.get_arguments() {
            if let Some(env) = a.get_env()
                && !a.is_hide_env_values_set()
            {
                found.push(format!("{path} --{}: {env:?}", a.get_id()));
            }
        }
        for sub in c.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), found);
        }
    }
    let mut shown = Vec::new();
    walk(&Cli::command(), "cliffload", &mut shown);
    assert!(shown.is_empty(), "help would print these values: {shown:?}");
}

fn connect(args: &[&str]) -> ConnectArgs {
    #[derive(clap::Parser)]
    struct T {
        #[command(flatten)]
        c: ConnectArgs,
    }
    let mut argv = vec!["t"];
    argv.extend_from_slice(args);
    <T as clap::Parser>::try_parse_from(argv).expect("parses").c
}

#[test]
fn login_comes_from_the_flags_then_the_url_then_the_file() {
    use cliffload_nats::{Credentials, Secret};
    let mut settings = cliffload_scenario::Settings::default();
    settings.nats_login.user = Some("filed".into());
    settings.nats_login.password = Some(Secret::new("filepw"));
    let a = connect(&["--nats-url", "nats://h:1"])
        .access(&settings)
        .expect("ok");
    let who = |a: &Option<cliffload_nats::NatsAccess>| a.as_ref().map(|a| a.who());
    assert_eq!(who(&a).as_deref(), Some("user filed"));
    let a = connect(&["--nats-url", "nats://url:pw@h:1"])
        .access(&settings)
        .expect("ok");
    assert_eq!(who(&a).as_deref(), Some("user url"));
    let a = connect(&["--nats-url", "nats://url:pw@h:1", "--token", "tk"])
        .access(&settings)
        .expect("ok");
    assert_eq!(
        a.map(|a| a.credentials),
        Some(Credentials::Token(Secret::new("tk")))
    );
    // No URL anywhere: cliffload starts its own server; login flags then make no sense.
    let none = cliffload_scenario::Settings::default();
    assert!(connect(&[]).access(&none).expect("ok").is_none());
    assert!(connect(&["--token", "x"]).access(&none).is_err());
    assert!(
        connect(&["--nats-url", "nats://h:1", "--user", "u"])
            .access(&none)
            .is_err()
    );
    assert!(
        connect(&["--nats-url", "nats://h:1", "--token", "a", "--nkey", "f"])
            .access(&none)
            .is_err()
    );
}

/// Issue 26: `--duration -5s` got clap's tip to write `-- -5s`.
#[test]
fn a_negative_or_zero_duration_is_refused_as_such() {
    for (argv, words) in [
        (
            &["run", "ping", "--duration", "-5s"][..],
            "-5s is negative: a duration must be positive",
        ),
        (&["run", "ping", "-d", "-5s"][..], "-5s is negative"),
        (&["run", "ping", "--duration", "0s"][..], "0s is zero"),
        (
            &["run", "ping", "--wait-workers", "-1m"][..],
            "-1m is negative",
        ),
        (
            &["suite", "quick", "--duration", "-5s"][..],
            "a duration must be positive",
        ),
        (
            &["suite", "quick", "--cooldown", "-5s"][..],
            "-5s is negative: a duration must be 0 or more",
        ),
        (&["run", "ping", "-d", "-q"][..], "\"-q\" is not a duration"),
        (
            &["run", "ping", "--duration", "soon"][..],
            "is not a duration",
        ),
    ] {
        let e = Cli::try_parse_from(std::iter::once("cliffload").chain(argv.iter().copied()))
            .expect_err("refused")
            .to_string();
        assert!(e.contains(words) && !e.contains("-- -"), "{argv:?}: {e}");
    }
    let ok = Cli::try_parse_from([
        "cliffload",
        "suite",
        "quick",
        "--cooldown",
        "0s",
        "-d",
        "2s",
    ]);
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn colour_follows_the_flag_then_the_terminal_no_color_and_term() {
    use std::ffi::OsStr;
    let set = Some(OsStr::new("1"));
    let empty = Some(OsStr::new(""));
    let xterm = Some(OsStr::new("xterm-256color"));
    let dumb = Some(OsStr::new("dumb"));
    assert!(ColorChoice::Auto.wants(true, None, xterm));
    assert!(
        ColorChoice::Auto.wants(true, empty, None),
        "empty NO_COLOR is unset"
    );
    assert!(!ColorChoice::Auto.wants(true, set, xterm));
    assert!(!ColorChoice::Auto.wants(true, None, dumb));
    assert!(!ColorChoice::Auto.wants(false, None, xterm));
    assert!(ColorChoice::Always.wants(false, set, dumb));
    assert!(!ColorChoice::Never.wants(true, None, xterm));
}
