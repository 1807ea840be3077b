//! How to reach and log in to a NATS deployment: one or more servers (a
//! cluster), credentials (user and password, token, NKey seed, credentials
//! file) and TLS (a private CA, a client certificate, TLS first). Secrets
//! never leave this module in any text: [`NatsAccess::display`] masks them,
//! and `Debug` prints `***`.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use async_nats::{ConnectErrorKind, ConnectOptions, ServerAddr};
pub use cliffload_protocol::Secret;

use crate::error::NatsError;

/// Credentials, at most one kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Credentials {
    /// None (an open server).
    #[default]
    None,
    /// User and password.
    UserPassword {
        /// The user (shown in messages).
        user: String,
        /// The password (never shown).
        password: Secret,
    },
    /// A token.
    Token(Secret),
    /// A file holding an NKey seed (`SU…`).
    NKeyFile(PathBuf),
    /// A credentials file (user JWT and NKey seed), for decentralised auth.
    CredsFile(PathBuf),
}

/// TLS settings (a `tls://` URL also asks for TLS).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tls {
    /// A CA certificate (PEM) that signed the server's certificate.
    pub ca: Option<PathBuf>,
    /// A client certificate and its key (PEM), for mutual TLS.
    pub client: Option<(PathBuf, PathBuf)>,
    /// Start TLS before the server's INFO (servers with `handshake_first`).
    pub first: bool,
}

/// Where a deployment is and how to log in to it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NatsAccess {
    /// Server URLs, credentials removed (a cluster: any of them, reconnecting across).
    pub servers: Vec<String>,
    /// How to log in.
    pub credentials: Credentials,
    /// TLS.
    pub tls: Tls,
}

impl NatsAccess {
    /// A plain server without credentials (the one cliffload starts).
    pub fn plain(url: &str) -> Self {
        Self {
            servers: vec![url.to_owned()],
            ..Self::default()
        }
    }

    /// Reads URLs (each may be a comma-separated list), taking credentials
    /// out of them: `nats://user:pass@host` (user and password) and
    /// `nats://token@host` (a token). The error names the bad argument,
    /// masked whole: a comma, `/`, `?` or `#` inside a password would
    /// otherwise cut it where the URL is split or parsed, and the piece
    /// before the cut would be shown.
    pub fn from_urls<S: AsRef<str>>(urls: &[S]) -> Result<Self, NatsError> {
        let mut access = Self::default();
        for arg in urls {
            let arg = arg.as_ref();
            let bad = |problem: String| NatsError::BadUrl {
                url: mask_url(arg),
                problem,
                userinfo: arg.contains('@'),
            };
            let pieces: Vec<&str> = arg
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            // `nats://alice:pa,ss@h`: the second piece looks like a token
            // login to a scheme-less server. Which was meant is a guess.
            if pieces
                .iter()
                .enumerate()
                .any(|(i, p)| i > 0 && !p.contains("://") && p.contains('@'))
                && pieces.iter().any(|p| p.contains("://"))
            {
                return Err(bad(
                    "a comma before an '@': if it is part of a password or token, write it as %2C; \
                     if it separates two servers, give each its scheme (nats://HOST:PORT,nats://HOST:PORT)"
                        .to_owned(),
                ));
            }
            for url in pieces {
                let addr = ServerAddr::from_str(url).map_err(|e| bad(e.to_string()))?;
                let mut bare = addr.clone().into_inner();
                // A `/`, `?` or `#` in a password ends the host part early:
                // what follows would be kept as a path, and shown.
                if !matches!(bare.path(), "" | "/")
                    || bare.query().is_some()
                    || bare.fragment().is_some()
                {
                    return Err(bad(
                        "a NATS URL ends at HOST:PORT, with no path, query or fragment after it"
                            .to_owned(),
                    ));
                }
                let found = match (addr.username(), addr.password()) {
                    (Some(user), Some(pass)) => Credentials::UserPassword {
                        user: percent_decode(user),
                        password: Secret::new(percent_decode(pass)),
                    },
                    (Some(token), None) => Credentials::Token(Secret::new(percent_decode(token))),
                    _ => Credentials::None,
                };
                if found != Credentials::None {
                    if access.credentials != Credentials::None && access.credentials != found {
                        return Err(NatsError::DifferentCredentials);
                    }
                    access.credentials = found;
                }
                let _ = bare.set_username("");
                let _ = bare.set_password(None);
                access
                    .servers
                    .push(bare.to_string().trim_end_matches('/').to_owned());
            }
        }
        if access.servers.is_empty() {
            return Err(NatsError::NoServer);
        }
        Ok(access)
    }

    /// The servers, for people: credentials are out of them already.
    pub fn display(&self) -> String {
        self.servers.join(",")
    }

    /// Who logs in, for messages: `user alice`, `a token`, `the NKey in FILE`.
    pub fn who(&self) -> String {
        match &self.credentials {
            Credentials::None => "no credentials".to_owned(),
            Credentials::UserPassword { user, .. } => format!("user {user}"),
            Credentials::Token(_) => "a token".to_owned(),
            Credentials::NKeyFile(p) => format!("the NKey seed in {}", p.display()),
            Credentials::CredsFile(p) => format!("the credentials file {}", p.display()),
        }
    }

    /// Adds this access's credentials and TLS to `options`, and names the
    /// connection `name` (seen in the server's `/connz`).
    pub async fn apply(
        &self,
        options: ConnectOptions,
        name: &str,
    ) -> Result<ConnectOptions, NatsError> {
        let mut o = match &self.credentials {
            Credentials::None => options,
            Credentials::UserPassword { user, password } => {
                options.user_and_password(user.clone(), password.expose().to_owned())
            }
            Credentials::Token(t) => options.token(t.expose().to_owned()),
            Credentials::NKeyFile(path) => {
                let seed =
                    std::fs::read_to_string(path).map_err(|error| NatsError::Unreadable {
                        flag: "--nkey",
                        path: path.clone(),
                        error,
                    })?;
                let seed = seed
                    .lines()
                    .map(str::trim)
                    .find(|l| l.starts_with("SU"))
                    .ok_or_else(|| NatsError::NoNKeySeed { path: path.clone() })?
                    .to_owned();
                options.nkey(seed)
            }
            Credentials::CredsFile(path) => {
                options.credentials_file(path).await.map_err(|error| {
                    NatsError::NotCredentialsFile {
                        path: path.clone(),
                        error,
                    }
                })?
            }
        };
        if let Some(ca) = &self.tls.ca {
            readable(ca, "--tls-ca")?;
            o = o.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &self.tls.client {
            readable(cert, "--tls-cert")?;
            readable(key, "--tls-key")?;
            o = o
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        if self.tls.first {
            o = o.tls_first();
        }
        Ok(o.name(name).connection_timeout(Duration::from_secs(5)))
    }

    /// What a failed connection means, and what to check; never a secret.
    /// The variant tells the causes apart: TLS, refused credentials, a failed
    /// signature, a timeout, a refused connection, DNS, anything else.
    pub fn explain(&self, e: &async_nats::ConnectError) -> NatsError {
        let servers = self.display();
        let source = std::error::Error::source(e);
        // async-nats' own words may already end with the cause's.
        let said = e.to_string();
        let text = match source.map(ToString::to_string) {
            Some(s) if !said.contains(&s) => format!("{said}: {s}"),
            _ => said,
        };
        // TLS trouble arrives as a TLS or an IO error (rustls' alerts and
        // its reading of a plain-text greeting as a bad record): read the words.
        let lower = text.to_lowercase();
        let tls = e.kind() == ConnectErrorKind::Tls
            || [
                "certificate",
                "unknownissuer",
                "unknownca",
                "handshake",
                "fatal alert",
                "invalidcontenttype",
                "corrupt message",
            ]
            .iter()
            .any(|w| lower.contains(w))
            || text.contains("TLS");
        if tls {
            return NatsError::Tls {
                servers,
                hint: self.tls_hint(&lower),
                detail: text,
            };
        }
        match e.kind() {
            ConnectErrorKind::AuthorizationViolation => NatsError::Authorization {
                servers,
                who: self.who(),
            },
            ConnectErrorKind::Authentication => NatsError::Authentication {
                servers,
                who: self.who(),
                cause: source.map(ToString::to_string),
            },
            ConnectErrorKind::TimedOut => NatsError::TimedOut { servers },
            ConnectErrorKind::Dns => NatsError::Dns {
                servers,
                detail: text,
            },
            ConnectErrorKind::Io if refused(source) => NatsError::Refused {
                servers,
                detail: text,
            },
            _ => NatsError::Unreachable {
                servers,
                detail: text,
            },
        }
    }
}

impl NatsAccess {
    /// What to do about a TLS failure, from its words (lower-cased) and
    /// what this side sent: a client certificate or not, TLS first or not.
    fn tls_hint(&self, text: &str) -> &'static str {
        let has_cert = self.tls.client.is_some();
        if text.contains("unknownissuer") || text.contains("unknown issuer") {
            "certificate signed by unknown authority; pass --tls-ca with the CA that signed the server's certificate"
        } else if (text.contains("badcertificate")
            || text.contains("bad certificate")
            || text.contains("certificaterequired")
            || text.contains("certificate required"))
            && !has_cert
        {
            "the server requires a client certificate (mutual TLS) and none was given; pass --tls-cert and --tls-key with one signed by a CA the server trusts"
        } else if text.contains("badcertificate")
            || text.contains("bad certificate")
            || text.contains("unknownca")
            || text.contains("unknown ca")
            || text.contains("certificaterequired")
        {
            "the server refused the client certificate; --tls-cert must be signed by a CA in the server's ca_file and be valid for client authentication"
        } else if text.contains("invalidcontenttype") || text.contains("corrupt message") {
            if self.tls.first {
                "the server sent its greeting in plain text, so it does not expect TLS first; leave out --tls-first"
            } else {
                "the server answered in plain text: it does not speak TLS on this port; use a nats:// URL without --tls-ca, --tls-cert and --tls-key, or the server's TLS port"
            }
        } else if text.contains("notvalidforname") {
            "the server's certificate is not for this host name; connect by a name it was issued for"
        } else {
            "check --tls-ca, --tls-cert and --tls-key, and whether the server speaks TLS (tls:// URLs, --tls-first)"
        }
    }
}

/// Whether an I/O failure's cause is a refused TCP connection.
fn refused(source: Option<&(dyn std::error::Error + 'static)>) -> bool {
    source
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// Checks the file `flag` names before connecting, so the message names the flag.
fn readable(path: &std::path::Path, flag: &'static str) -> Result<(), NatsError> {
    std::fs::metadata(path)
        .map(|_| ())
        .map_err(|error| NatsError::Unreadable {
            flag,
            path: path.to_owned(),
            error,
        })
}

/// `%XX` sequences decoded (URL user info is percent-encoded).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An argument of one or more URLs with the user info of each replaced by
/// `***`, for messages. Works on the whole argument, before it is split at
/// commas (a comma may be inside a password), and on scheme-less input
/// (`alice:pw@host`): a URL's user info runs from its `://` (or its start)
/// to the last `@` before the next `,scheme://`.
pub(crate) fn mask_url(text: &str) -> String {
    let scheme_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.');
    // Where each URL after the first starts: a scheme right after a comma.
    let mut starts = vec![0];
    for (i, _) in text.match_indices("://") {
        let scheme = text[..i].trim_end_matches(scheme_char);
        if scheme.len() < i && scheme.trim_end().ends_with(',') {
            starts.push(scheme.len());
        }
    }
    starts.push(text.len());
    starts
        .windows(2)
        .map(|w| {
            let url = &text[w[0]..w[1]];
            let from = url.find("://").map_or(0, |i| i + 3);
            match url.rfind('@') {
                Some(at) if at >= from => format!("{}***{}", &url[..from], &url[at..]),
                _ => url.to_owned(),
            }
        })
        .collect()
}

/// The logins given for a deployment besides its URLs: the command
/// line's and the scenario file's.
#[derive(Debug, Clone, Default)]
pub struct Logins {
    /// From flags or their environment variables.
    pub flags: Option<Credentials>,
    /// From the scenario file's `environment`.
    pub file: Option<Credentials>,
    /// TLS files and mode from flags.
    pub tls_flags: Tls,
    /// TLS files and mode from the file.
    pub tls_file: Tls,
}

impl NatsAccess {
    /// Lays `logins` over the URL's own: the flags' credentials win over
    /// the URL's (`nats://user:pass@host`), which win over the file's; TLS
    /// files come from the flags, else the file (a client certificate only
    /// as a pair); TLS first when either asks for it.
    pub fn with_logins(mut self, logins: Logins) -> Self {
        if let Some(c) = logins.flags {
            self.credentials = c;
        } else if self.credentials == Credentials::None
            && let Some(c) = logins.file
        {
            self.credentials = c;
        }
        self.tls.ca = logins.tls_flags.ca.or(logins.tls_file.ca);
        self.tls.client = logins.tls_flags.client.or(logins.tls_file.client);
        self.tls.first = logins.tls_flags.first || logins.tls_file.first;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_out_of_urls_and_lists_are_split() {
        let a = NatsAccess::from_urls(&["nats://alice:s%40cret@127.0.0.1:1,nats://127.0.0.1:2"])
            .expect("valid");
        assert_eq!(a.servers, ["nats://127.0.0.1:1", "nats://127.0.0.1:2"]);
        assert_eq!(
            a.credentials,
            Credentials::UserPassword {
                user: "alice".into(),
                password: Secret::new("s@cret")
            }
        );
        assert!(!format!("{a:?}").contains("s@cret"), "{a:?}");
        assert_eq!(a.who(), "user alice");
        let t = NatsAccess::from_urls(&["nats://t0k3n@127.0.0.1:1"]).expect("valid");
        assert_eq!(t.credentials, Credentials::Token(Secret::new("t0k3n")));
        assert!(!t.display().contains("t0k3n"));
        let tls = NatsAccess::from_urls(&["tls://127.0.0.1:1"]).expect("valid");
        assert_eq!(tls.servers, ["tls://127.0.0.1:1"]);
    }

    #[test]
    fn bad_urls_are_named_without_their_secret() {
        let e = NatsAccess::from_urls(&["nats://bob:hunter2@"]).expect_err("no host");
        assert!(matches!(e, NatsError::BadUrl { .. }), "{e}");
        let e = e.to_string();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(matches!(
            NatsAccess::from_urls::<&str>(&[]),
            Err(NatsError::NoServer)
        ));
        let e = NatsAccess::from_urls(&["nats://a:b@h:1", "nats://c:d@h:2"]).expect_err("two");
        assert!(matches!(e, NatsError::DifferentCredentials), "{e}");
        let e = e.to_string();
        assert!(
            e.contains("different credentials") && !e.contains(":b@"),
            "{e}"
        );
        // The same credentials twice are one login, not a conflict.
        let same = NatsAccess::from_urls(&["nats://a:b@h:1", "nats://a:b@h:2"]).expect("same");
        assert_eq!(same.servers.len(), 2);
        assert_eq!(mask_url("nats://u:p@h:1"), "nats://***@h:1");
        assert_eq!(mask_url("nats://h:1"), "nats://h:1");
    }

    /// Issue 26: a comma in a password printed the part before it
    /// (`not a NATS URL: nats://alice:pa`), a scheme-less URL printed the
    /// whole password, and `#`, `?` or `/` in one could pass as a path and
    /// be shown as part of the server.
    #[test]
    fn a_secret_with_a_separator_in_it_is_never_shown() {
        for (url, secret) in [
            ("nats://alice:pa,S3cretTail@h:1", "pa"),
            ("nats://alice:12,S3cretTail@h:1", "12"),
            ("nats://alice:S3cret,x@h:1,nats://h:2", "S3cret"),
            ("alice:Sch3meless@", "Sch3meless"),
            ("alice:Sch3meless@h:x", "Sch3meless"),
            ("tok3nonly@h:x", "tok3nonly"),
            ("nats:/alice:Sl4shpw@h", "Sl4shpw"),
            ("nats://alice:1#Fr4gment@h:1", "Fr4gment"),
            ("nats://alice:1?Qu3ry@h:1", "Qu3ry"),
            ("nats://alice:1/P4th@h:1", "P4th"),
            ("nats://alice:p#Hash3d@h:1", "Hash3d"),
        ] {
            let e = NatsAccess::from_urls(&[url]).expect_err(url);
            assert!(matches!(e, NatsError::BadUrl { .. }), "{url}: {e}");
            let text = e.to_string();
            assert!(
                !text.contains(&format!(":{secret}")) && !text.contains(&format!("{secret}@")),
                "{url} shows its secret: {text}"
            );
            assert!(!text.contains("alice:"), "{url}: {text}");
            assert!(
                text.contains("%2C") && text.contains("%23"),
                "{url}: {text}"
            );
        }
        let e = NatsAccess::from_urls(&["nats://alice:pa,ss@h:1"]).expect_err("comma");
        assert!(e.to_string().contains("nats://***@h:1"), "{e}");
        // Percent-encoded, the same password logs in.
        let a = NatsAccess::from_urls(&["nats://alice:pa%2Css%23%3F%2F@h:1"]).expect("encoded");
        assert_eq!(
            a.credentials,
            Credentials::UserPassword {
                user: "alice".into(),
                password: Secret::new("pa,ss#?/")
            }
        );
        // A URL without user info gets no advice about encoding one.
        let e = NatsAccess::from_urls(&["nats://h:x"]).expect_err("port");
        assert!(!e.to_string().contains("%2C"), "{e}");
        // Lists keep working, scheme-less ones too.
        let a = NatsAccess::from_urls(&["h:1, nats://h:2"]).expect("list");
        assert_eq!(a.servers, ["nats://h:1", "nats://h:2"]);
    }

    #[test]
    fn masking_covers_every_url_of_a_list_and_scheme_less_input() {
        assert_eq!(
            mask_url("nats://a:b@h1,tls://c:d@h2"),
            "nats://***@h1,tls://***@h2"
        );
        assert_eq!(mask_url("nats://a:p,q@h1"), "nats://***@h1");
        assert_eq!(mask_url("a:b@h1"), "***@h1");
        assert_eq!(mask_url("nats://u:a://b@h"), "nats://***@h");
        assert_eq!(mask_url("h1:1,h2:2"), "h1:1,h2:2");
    }

    #[test]
    fn the_flags_login_wins_over_the_urls_which_wins_over_the_files() {
        let file = Credentials::Token(Secret::new("from-file"));
        let flags = Credentials::Token(Secret::new("from-flags"));
        let url = NatsAccess::from_urls(&["nats://u:p@127.0.0.1:1"]).expect("url");
        let bare = NatsAccess::from_urls(&["nats://127.0.0.1:1"]).expect("url");
        let both = Logins {
            flags: Some(flags.clone()),
            file: Some(file.clone()),
            ..Logins::default()
        };
        assert_eq!(url.clone().with_logins(both.clone()).credentials, flags);
        let only_file = Logins {
            file: Some(file.clone()),
            ..Logins::default()
        };
        assert!(matches!(
            url.with_logins(only_file.clone()).credentials,
            Credentials::UserPassword { .. }
        ));
        assert_eq!(bare.clone().with_logins(only_file).credentials, file);
        let tls = bare.with_logins(Logins {
            tls_flags: Tls {
                ca: Some("flags-ca.pem".into()),
                ..Tls::default()
            },
            tls_file: Tls {
                ca: Some("file-ca.pem".into()),
                client: Some(("c.pem".into(), "k.pem".into())),
                first: true,
            },
            ..Logins::default()
        });
        assert_eq!(
            tls.tls.ca.as_deref(),
            Some(std::path::Path::new("flags-ca.pem"))
        );
        assert!(tls.tls.client.is_some() && tls.tls.first);
    }
}
