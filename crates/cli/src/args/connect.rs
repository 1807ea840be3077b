//! Where the NATS deployment is and how to log in to it: `--nats-url` and
//! the login flags, their environment variables, and the scenario file's.

use std::path::PathBuf;

use clap::Args;

/// Where the NATS deployment is and how to log in to it.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connecting to NATS")]
pub struct ConnectArgs {
    /// NATS server(s) to target: repeat the flag or separate URLs with
    /// commas for a cluster. `nats://user:pass@host` and `nats://token@host`
    /// log in; `tls://` asks for TLS. Without it, cliffload starts its own
    /// nats-server on a free 127.0.0.1 port (and, for run and suite, the
    /// reference services).
    // The URL may hold a password or token: `--help` names the variable
    // but never prints its value (issue 26).
    #[arg(
        long,
        env = "CLIFFLOAD_NATS_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub nats_url: Vec<String>,

    /// Log in as this user (with --password).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// The user's password; prefer the environment variable, which `ps` does not show.
    #[arg(
        long,
        env = "CLIFFLOAD_NATS_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub password: Option<String>,

    /// Log in with a token; prefer the environment variable.
    #[arg(
        long,
        env = "CLIFFLOAD_NATS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,

    /// Log in with the user NKey seed (SU…) in this file.
    #[arg(long, value_name = "FILE")]
    pub nkey: Option<PathBuf>,

    /// Log in with this credentials file (user JWT and seed, decentralised auth).
    #[arg(long, value_name = "FILE")]
    pub creds: Option<PathBuf>,

    /// Trust this CA certificate (PEM) for the server's TLS certificate.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,

    /// Client certificate (PEM) for mutual TLS (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// Key of the client certificate (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Start TLS before the server's greeting (servers with handshake_first).
    #[arg(long)]
    pub tls_first: bool,
}

impl ConnectArgs {
    /// The deployment to target: the flags, else the file's `environment`;
    /// `None` when no URL is given anywhere (cliffload starts its own).
    /// Flags win over URL credentials, which win over the file's.
    pub fn access(
        &self,
        settings: &cliffload_scenario::Settings,
    ) -> anyhow::Result<Option<cliffload_nats::NatsAccess>> {
        use cliffload_nats::NatsAccess;
        let urls: Vec<String> = if self.nats_url.is_empty() {
            settings.nats_url.iter().cloned().collect()
        } else {
            self.nats_url.clone()
        };
        if urls.is_empty() {
            // A password or token exported for a deployment must not break
            // a run on the open server cliffload starts (issue 26), nor be
            // sent to it: it is left out, and said so. One given as a flag
            // is a mistake worth stopping for.
            let exported = |var: &str, value: &Option<String>| {
                value.as_deref().is_some_and(|v| {
                    std::env::var_os(var).is_some_and(|e| e.as_os_str() == std::ffi::OsStr::new(v))
                })
            };
            let ignored: Vec<&str> = [
                ("CLIFFLOAD_NATS_PASSWORD", &self.password),
                ("CLIFFLOAD_NATS_TOKEN", &self.token),
            ]
            .into_iter()
            .filter(|(var, value)| exported(var, value))
            .map(|(var, _)| var)
            .collect();
            let flags_login = self.user.is_some()
                || (self.password.is_some() && !ignored.contains(&"CLIFFLOAD_NATS_PASSWORD"))
                || (self.token.is_some() && !ignored.contains(&"CLIFFLOAD_NATS_TOKEN"))
                || self.nkey.is_some()
                || self.creds.is_some();
            if flags_login || self.tls_ca.is_some() || self.tls_cert.is_some() {
                anyhow::bail!(
                    "--user, --password, --token, --nkey, --creds and --tls-* are for a deployment of yours: give its --nats-url (without it, cliffload starts an open server of its own)"
                );
            }
            if !ignored.is_empty() {
                eprintln!(
                    "note: {} set, but without --nats-url cliffload starts an open server of its own and does not send it there",
                    ignored.join(" and ")
                );
            }
            return Ok(None);
        }
        let access =
            NatsAccess::from_urls(&urls).map_err(|e| anyhow::anyhow!("--nats-url: {e}"))?;
        let kinds = [
            self.user.is_some() || self.password.is_some(),
            self.token.is_some(),
            self.nkey.is_some(),
            self.creds.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() > 1 {
            anyhow::bail!("give one way to log in: --user/--password, --token, --nkey or --creds");
        }
        let login = &settings.nats_login;
        let access = access.with_logins(cliffload_nats::Logins {
            flags: self.credentials()?,
            file: file_credentials(login)?,
            tls_flags: cliffload_nats::Tls {
                ca: self.tls_ca.clone(),
                client: self.tls_cert.clone().zip(self.tls_key.clone()),
                first: self.tls_first,
            },
            tls_file: cliffload_nats::Tls {
                ca: login.tls_ca.clone(),
                client: login.tls_cert.clone().zip(login.tls_key.clone()),
                first: login.tls_first,
            },
        });
        Ok(Some(access))
    }

    /// The credentials the flags give, if any.
    fn credentials(&self) -> anyhow::Result<Option<cliffload_nats::Credentials>> {
        use cliffload_nats::{Credentials, Secret};
        Ok(match (&self.user, &self.password) {
            (Some(user), Some(password)) => Some(Credentials::UserPassword {
                user: user.clone(),
                password: Secret::new(password.clone()),
            }),
            (Some(_), None) => anyhow::bail!(
                "--user needs a password: --password, or CLIFFLOAD_NATS_PASSWORD in the environment"
            ),
            (None, Some(_)) => anyhow::bail!("--password needs --user"),
            (None, None) => self
                .token
                .as_ref()
                .map(|t| Credentials::Token(Secret::new(t.clone())))
                .or_else(|| self.nkey.clone().map(Credentials::NKeyFile))
                .or_else(|| self.creds.clone().map(Credentials::CredsFile)),
        })
    }
}

/// The credentials the scenario file's `environment` gives, if any.
fn file_credentials(
    login: &cliffload_scenario::NatsLogin,
) -> anyhow::Result<Option<cliffload_nats::Credentials>> {
    use cliffload_nats::Credentials;
    Ok(match (&login.user, &login.password) {
        (Some(user), Some(password)) => Some(Credentials::UserPassword {
            user: user.clone(),
            password: password.clone(),
        }),
        (Some(_), None) => {
            anyhow::bail!("environment.nats_user needs nats_password_file (or nats_password)")
        }
        _ => login
            .token
            .clone()
            .map(Credentials::Token)
            .or_else(|| login.nkey_file.clone().map(Credentials::NKeyFile))
            .or_else(|| login.credentials_file.clone().map(Credentials::CredsFile)),
    })
}
