//! Whether a worker may run a plan: the plan's hash (damage on the way),
//! and the servers it may send the load to with its login.
//!
//! Who sent the plan is the seal's business ([`crate::seal`]): with a
//! control token, an HMAC over the whole message under a per-run key.

use cliffload_scenario::Scenario;

/// SHA-256 of the scenario's canonical JSON, hex
/// ([`Scenario::content_hash`]).
pub fn plan_hash(scenario: &Scenario) -> String {
    scenario.content_hash()
}

/// The servers a worker sends its login to: those it was given (its
/// control server, `--target`), by host and port (the scheme may differ:
/// `tls://` and `nats://` reach the same server).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    trusted: Vec<(String, u16)>,
}

impl Targets {
    /// The servers of `urls` (each may be a comma-separated list).
    pub fn new<S: AsRef<str>>(urls: &[S]) -> Self {
        Self {
            trusted: urls
                .iter()
                .flat_map(|u| u.as_ref().split(','))
                .filter_map(host_port)
                .collect(),
        }
    }

    /// The servers of `target` this worker was not given, in its words.
    pub fn untrusted<'a>(&self, target: &'a [String]) -> Vec<&'a str> {
        target
            .iter()
            .filter(|url| host_port(url).is_none_or(|hp| !self.trusted.contains(&hp)))
            .map(String::as_str)
            .collect()
    }
}

/// Whether every server of `urls` is on this machine's loopback (127.0.0.0/8,
/// ::1, `localhost`), where only local processes can publish.
pub fn all_loopback<S: AsRef<str>>(urls: &[S]) -> bool {
    urls.iter()
        .flat_map(|u| u.as_ref().split(','))
        .filter(|u| !u.trim().is_empty())
        .all(|u| {
            host_port(u).is_some_and(|(host, _)| {
                let bare = host.trim_start_matches('[').trim_end_matches(']');
                bare == "localhost"
                    || bare
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            })
        })
}

/// Why a side without a control token may not use `control` as its control
/// server, if it may not: a server off loopback, where anyone who may
/// publish could steer the run. The words offer a fresh token.
pub fn tokenless_refusal<S: AsRef<str>>(control: &[S]) -> Option<String> {
    if all_loopback(control) {
        return None;
    }
    let servers: Vec<&str> = control.iter().map(AsRef::as_ref).collect();
    Some(format!(
        "the control server {} is not on loopback and there is no control token: anyone who may publish on cliffload.v1.> there could give the workers work, stop the run, and forge its results. Give the coordinator and every worker the same token, e.g. `export CLIFFLOAD_CONTROL_TOKEN={}` (or --control-token-file FILE); or pass --insecure-no-token to run without one",
        servers.join(","),
        crate::seal::generate_token()
    ))
}

/// The token a side whose control server is `control` runs with: `token`,
/// or none, which only a server on loopback allows unless
/// `insecure_no_token` says otherwise; the refusal otherwise, in words.
pub fn token_for<S: AsRef<str>>(
    token: Option<String>,
    insecure_no_token: bool,
    control: &[S],
) -> Result<Option<String>, String> {
    match (&token, insecure_no_token, tokenless_refusal(control)) {
        (None, false, Some(why)) => Err(why),
        _ => Ok(token),
    }
}

/// A server URL's host (lower case) and port (4222 when absent).
fn host_port(url: &str) -> Option<(String, u16)> {
    let addr: async_nats::ServerAddr = url.trim().parse().ok()?;
    Some((addr.host().to_ascii_lowercase(), addr.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_match_by_host_and_port_whatever_the_scheme() {
        let t = Targets::new(&[
            "nats://Ctl.example:4222,tls://10.0.0.5:4333",
            "127.0.0.1:5000",
        ]);
        let asked = [
            "nats://ctl.example".to_owned(),
            "tls://10.0.0.5:4333".to_owned(),
            "nats://127.0.0.1:5000".to_owned(),
            "nats://10.0.0.5:4222".to_owned(),
            "nats://evil.example:4222".to_owned(),
            "not a url at all".to_owned(),
        ];
        assert_eq!(
            t.untrusted(&asked),
            [
                "nats://10.0.0.5:4222",
                "nats://evil.example:4222",
                "not a url at all"
            ]
        );
    }

    #[test]
    fn only_loopback_servers_count_as_loopback() {
        assert!(all_loopback(&[
            "nats://127.0.0.1:4222",
            "nats://[::1]:5",
            "localhost:4222"
        ]));
        assert!(all_loopback(&["nats://127.8.9.10:1,nats://localhost"]));
        for remote in [
            "nats://10.0.0.5:4222",
            "nats://127.0.0.1:1,nats://nats.example:4222",
            "nats://localhost.evil.example",
            "nats://[::2]:4222",
            "garbage here",
        ] {
            assert!(!all_loopback(&[remote]), "{remote}");
        }
    }

    #[test]
    fn tokenless_control_off_loopback_is_refused_with_a_fresh_token() {
        assert_eq!(tokenless_refusal(&["nats://127.0.0.1:1"]), None);
        let why = tokenless_refusal(&["nats://10.0.0.5:4222"]).expect("refused");
        assert!(
            why.contains("10.0.0.5") && why.contains("--insecure-no-token"),
            "{why}"
        );
        assert!(why.contains("CLIFFLOAD_CONTROL_TOKEN="), "{why}");
    }

    #[test]
    fn the_hash_changes_with_the_plan() {
        let file = cliffload_scenario::catalog::builtin();
        let mut s = file.get("ping").expect("ping").clone();
        let before = plan_hash(&s);
        assert_eq!(before.len(), 64);
        assert_eq!(before, plan_hash(&s.clone()));
        s.seed += 1;
        assert_ne!(before, plan_hash(&s));
    }
}
