// Secured deployments (issue 13): real nats-server processes with user and
// password, token, NKey, TLS with a private CA, and mutual TLS; each logs in
// and runs with 0 failures, each wrong secret exits 2 with the right words,
// and no secret reaches any output.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::ConnectOptions;
use cliffload_testkit::NatsServer;

use crate::harness::{read_result, respond_always, stderr};

const OK: &[u8] =
    br#"{"success": true, "result": "pong", "timestamp": "t", "correlation_id": null}"#;

const SCENARIO: &str = "scenarios:\n  s:\n    users: 2\n    duration: 5s\n    max_requests: 50\n    tasks:\n      - {name: ping, subject: secure.rpc.ping}\n";

/// A server with `config`, and a responder logged in with `login`.
async fn secured(config: &str, login: ConnectOptions) -> NatsServer {
    let server = cliffload_testkit::server_with_config(config);
    let client = login
        .connect(server.url())
        .await
        .expect("the responder logs in");
    respond_always(&client, "secure.rpc.ping", OK).await;
    // The responder's task holds its own clone of the client.
    std::mem::forget(client);
    server
}

/// Runs the scenario against `url` with `args` and `env`; the output and
/// every file written, for grepping.
async fn run_secured(
    dir: &Path,
    url: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (std::process::Output, String) {
    let cfg = dir.join("s.yaml");
    std::fs::write(&cfg, SCENARIO).expect("scenario");
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let mut cmd = crate::harness::cliffload();
    cmd.args([
        "run",
        "s",
        "--config",
        cfg.to_str().expect("utf-8"),
        "--nats-url",
        url,
    ])
    .args(["--out", out.to_str().expect("utf-8")])
    .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("in time")
        .expect("ran");
    let mut all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    for f in std::fs::read_dir(&out).into_iter().flatten().flatten() {
        all.push_str(&std::fs::read_to_string(f.path()).unwrap_or_default());
    }
    (o, all)
}

fn assert_ran_clean(o: &std::process::Output, dir: &Path) {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    let r = read_result(&dir.join("out"));
    assert_eq!(r["summary"]["failures"], 0, "{}", r["summary"]);
    assert!(r["summary"]["successes"].as_u64() > Some(0));
}

fn with_secret(url: &str, userinfo: &str) -> String {
    url.replacen("://", &format!("://{userinfo}@"), 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_password_in_the_url_the_flags_or_the_environment() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = secured(
        "authorization { user: alice, password: s3cretpw }",
        ConnectOptions::with_user_and_password("alice".into(), "s3cretpw".into()),
    )
    .await;
    let url = server.url();
    // In the URL (async-nats alone ignores it).
    let (o, all) = run_secured(dir.path(), &with_secret(url, "alice:s3cretpw"), &[], &[]).await;
    assert_ran_clean(&o, dir.path());
    assert!(
        !all.contains("s3cretpw"),
        "the password leaked into an output"
    );
    // The flag and the environment variable.
    let (o, all) = run_secured(
        dir.path(),
        url,
        &["--user", "alice"],
        &[("CLIFFLOAD_NATS_PASSWORD", "s3cretpw")],
    )
    .await;
    assert_ran_clean(&o, dir.path());
    assert!(!all.contains("s3cretpw"));
    // A wrong password: exit 2, what failed and for whom, never the password.
    let (o, all) = run_secured(dir.path(), &with_secret(url, "alice:wrongpw1"), &[], &[]).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("authorization violation") && err.contains("user alice"),
        "{err}"
    );
    assert!(!all.contains("wrongpw1"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_the_url_or_the_environment() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = secured(
        "authorization { token: t0k3nvalue }",
        ConnectOptions::with_token("t0k3nvalue".into()),
    )
    .await;
    let (o, all) = run_secured(
        dir.path(),
        &with_secret(server.url(), "t0k3nvalue"),
        &[],
        &[],
    )
    .await;
    assert_ran_clean(&o, dir.path());
    assert!(!all.contains("t0k3nvalue"));
    let (o, _) = run_secured(
        dir.path(),
        server.url(),
        &[],
        &[("CLIFFLOAD_NATS_TOKEN", "t0k3nvalue")],
    )
    .await;
    assert_ran_clean(&o, dir.path());
    let (o, all) = run_secured(dir.path(), server.url(), &["--token", "n0tth1s"], &[]).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("a token"), "{}", stderr(&o));
    assert!(!all.contains("n0tth1s"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nkey_seed_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let user = nkeys::KeyPair::new_user();
    let seed = user.seed().expect("seed");
    let server = secured(
        &format!(
            "authorization {{ users: [ {{ nkey: {} }} ] }}",
            user.public_key()
        ),
        ConnectOptions::with_nkey(seed.clone()),
    )
    .await;
    let seed_file = dir.path().join("user.nk");
    std::fs::write(&seed_file, format!("{seed}\n")).expect("seed file");
    let (o, all) = run_secured(
        dir.path(),
        server.url(),
        &["--nkey", seed_file.to_str().expect("utf-8")],
        &[],
    )
    .await;
    assert_ran_clean(&o, dir.path());
    assert!(!all.contains(&seed));
    // Another user's seed: refused.
    let other = dir.path().join("other.nk");
    std::fs::write(&other, nkeys::KeyPair::new_user().seed().expect("seed")).expect("write");
    let (o, _) = run_secured(
        dir.path(),
        server.url(),
        &["--nkey", other.to_str().expect("utf-8")],
        &[],
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("authorization violation"),
        "{}",
        stderr(&o)
    );
}

/// A CA, and a server and a client certificate it signed, as PEM files.
struct Pki {
    ca: PathBuf,
    server: (PathBuf, PathBuf),
    client: (PathBuf, PathBuf),
}

fn pki(dir: &Path) -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose, SanType,
    };
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(DnType::CommonName, "cliffload test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA");
    let leaf = |usage: ExtendedKeyUsagePurpose, name: &str| {
        let key = KeyPair::generate().expect("key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.subject_alt_names = vec![
            SanType::DnsName("localhost".try_into().expect("name")),
            SanType::IpAddress("127.0.0.1".parse().expect("ip")),
        ];
        p.distinguished_name.push(DnType::CommonName, name);
        p.extended_key_usages = vec![usage];
        let cert = p.signed_by(&key, &ca_cert, &ca_key).expect("signed");
        (cert.pem(), key.serialize_pem())
    };
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write pem");
        p
    };
    let (sc, sk) = leaf(ExtendedKeyUsagePurpose::ServerAuth, "server");
    let (cc, ck) = leaf(ExtendedKeyUsagePurpose::ClientAuth, "client");
    Pki {
        ca: write("ca.pem", &ca_cert.pem()),
        server: (write("server.pem", &sc), write("server-key.pem", &sk)),
        client: (write("client.pem", &cc), write("client-key.pem", &ck)),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca_and_mutual_tls() {
    let dir = tempfile::tempdir().expect("tmp");
    let k = pki(dir.path());
    // TLS: the server's certificate is signed by our CA.
    let server = secured(
        &format!(
            "tls {{ cert_file: {:?}, key_file: {:?} }}",
            s(&k.server.0),
            s(&k.server.1)
        ),
        ConnectOptions::new()
            .add_root_certificates(k.ca.clone())
            .require_tls(true),
    )
    .await;
    let url = server.url().replacen("nats://", "tls://", 1);
    let (o, _) = run_secured(dir.path(), &url, &["--tls-ca", s(&k.ca)], &[]).await;
    assert_ran_clean(&o, dir.path());
    // Without the CA: exit 2, and what to pass.
    let (o, _) = run_secured(dir.path(), &url, &[], &[]).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("TLS") && err.contains("--tls-ca"), "{err}");
    drop(server);

    // Mutual TLS: the server also verifies the client's certificate.
    let server = secured(
        &format!(
            "tls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, verify: true }}",
            s(&k.server.0),
            s(&k.server.1),
            s(&k.ca)
        ),
        ConnectOptions::new()
            .add_root_certificates(k.ca.clone())
            .add_client_certificate(k.client.0.clone(), k.client.1.clone())
            .require_tls(true),
    )
    .await;
    let url = server.url().replacen("nats://", "tls://", 1);
    let (o, _) = run_secured(
        dir.path(),
        &url,
        &[
            "--tls-ca",
            s(&k.ca),
            "--tls-cert",
            s(&k.client.0),
            "--tls-key",
            s(&k.client.1),
        ],
        &[],
    )
    .await;
    assert_ran_clean(&o, dir.path());
    // No client certificate: said so, not "is nats-server running there?" (issue 26).
    let (o, _) = run_secured(dir.path(), &url, &["--tls-ca", s(&k.ca)], &[]).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("requires a client certificate") && err.contains("--tls-cert"),
        "{err}"
    );
    assert!(!err.contains("running there"), "{err}");
    // TLS first to a server that greets in plain text first.
    let (o, _) = run_secured(
        dir.path(),
        &url,
        &[
            "--tls-ca",
            s(&k.ca),
            "--tls-cert",
            s(&k.client.0),
            "--tls-key",
            s(&k.client.1),
            "--tls-first",
        ],
        &[],
    )
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("leave out --tls-first"), "{err}");
    assert!(!err.contains("running there"), "{err}");
    drop(server);

    // tls:// to a server without TLS (issue 26).
    let plain = secured("", ConnectOptions::new()).await;
    let url = plain.url().replacen("nats://", "tls://", 1);
    let (o, _) = run_secured(dir.path(), &url, &["--tls-ca", s(&k.ca)], &[]).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("does not speak TLS") && err.contains("nats://"),
        "{err}"
    );
    assert!(!err.contains("running there"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_list_skips_a_dead_server_and_connections_carry_a_name() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = secured("", ConnectOptions::new()).await;
    // A port that was free a moment ago, with nothing listening on it now.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let list = format!("nats://127.0.0.1:{dead},{}", server.url());
    let cfg = dir.path().join("long.yaml");
    std::fs::write(
        &cfg,
        SCENARIO.replace("max_requests: 50", "max_requests: 100000"),
    )
    .expect("scenario");
    let mut child = crate::harness::cliffload()
        .args([
            "run",
            "s",
            "--config",
            s(&cfg),
            "--nats-url",
            &list,
            "--quiet",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // While it runs, the server's /connz names the load's connection.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let names = loop {
        let connz: serde_json::Value = reqwest::get(format!("{}/connz", server.monitor_url()))
            .await
            .expect("monitoring")
            .json()
            .await
            .expect("json");
        let names: Vec<String> = connz["connections"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect();
        if names.iter().any(|n| n.contains("/worker-0")) {
            break names;
        }
        assert!(tokio::time::Instant::now() < deadline, "{names:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        names.contains(&format!("cliffload/{version}/s/worker-0")),
        "{names:?}"
    );
    let code = crate::harness::interrupt(&mut child, Duration::from_secs(20)).await;
    assert_eq!(code, Some(130));
}

// Decentralised auth (a credentials file) needs an operator, an account and a
// resolver set up with `nsc`, which this machine does not have: --creds is
// passed to async-nats's credentials_file unchanged; a file that is not one
// is refused with its path named (below), the login itself is untested here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_credentials_file_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = secured("", ConnectOptions::new()).await;
    let bad = dir.path().join("bad.creds");
    std::fs::write(&bad, "not a creds file").expect("write");
    let (o, _) = run_secured(dir.path(), server.url(), &["--creds", s(&bad)], &[]).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--creds") && err.contains("bad.creds"),
        "{err}"
    );
}

/// Issue 26: `--help` printed `[env: CLIFFLOAD_NATS_URL=nats://alice:…@…]`.
/// With every secret-bearing variable set, no subcommand's help (long or
/// short) shows a value, though it still names the variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_never_prints_a_secret_from_the_environment() {
    let secrets = [
        ("CLIFFLOAD_NATS_URL", "nats://alice:urlpw5ecret@h:4222"),
        ("CLIFFLOAD_NATS_PASSWORD", "pa55w0rdsecret"),
        ("CLIFFLOAD_NATS_TOKEN", "t0kensecret"),
        ("CLIFFLOAD_CONTROL_TOKEN", "c0ntrolsecret"),
    ];
    let commands: [&[&str]; 6] = [
        &["run"],
        &["suite"],
        &["serve"],
        &["worker"],
        &["compare"],
        &["k8s", "render"],
    ];
    let mut named = String::new();
    for command in commands {
        for help in ["--help", "-h"] {
            let mut cmd = crate::harness::cliffload();
            cmd.args(command).arg(help).envs(secrets);
            let o = tokio::time::timeout(Duration::from_secs(10), cmd.output())
                .await
                .expect("in time")
                .expect("ran");
            assert_eq!(o.status.code(), Some(0), "{command:?} {help}");
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            for (var, value) in secrets {
                assert!(
                    !all.contains(value) && !all.contains(&format!("{var}=")),
                    "{command:?} {help} shows {var}'s value:\n{all}"
                );
            }
            named.push_str(&all);
        }
    }
    // Hidden values, not hidden variables: the help still says where a secret may come from.
    for (var, _) in secrets {
        assert!(named.contains(var), "{var} is named nowhere");
    }
}

/// Issue 26: a comma in a URL's password printed the part before it, and a
/// scheme-less URL printed the whole password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_is_refused_without_showing_its_password() {
    for url in [
        "nats://alice:pa,S3cretTail@127.0.0.1:1",
        "alice:Sch3meless@",
    ] {
        let o =
            crate::harness::run(&["run", "ping", "--nats-url", url], Duration::from_secs(10)).await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains("--nats-url") && err.contains("%2C") && err.contains("***@"),
            "{err}"
        );
        let out = format!("{}{err}", String::from_utf8_lossy(&o.stdout));
        for secret in ["alice:", "S3cret", "Sch3meless"] {
            assert!(!out.contains(secret), "{url}: {out}");
        }
    }
}

/// Issue 26: `k8s render` wrote a URL's credentials into the Jobs' args and
/// an inline password into the ConfigMap. Such a render is refused (exit 2,
/// saying to use a Secret), and with --nats-url-secret the URL is read from
/// the Secret: no password anywhere in what is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k8s_render_never_writes_nats_credentials_into_the_objects() {
    let dir = tempfile::tempdir().expect("tmp");
    let render = |extra: Vec<String>| async move {
        let mut args = vec![
            "k8s".to_owned(),
            "render".into(),
            "--distributed".into(),
            "2".into(),
        ];
        args.extend(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        crate::harness::run(&args, Duration::from_secs(10)).await
    };
    let url = "nats://alice:k8sPassw0rd@nats.default.svc:4222";
    let inline = dir.path().join("inline.yaml");
    std::fs::write(
        &inline,
        format!("environment:\n  nats_user: alice\n  nats_password: f1lePassw0rd\n{SCENARIO}"),
    )
    .expect("write");
    for args in [
        vec!["ping".to_owned(), "--nats-url".into(), url.into()],
        vec![
            "ping".to_owned(),
            "--nats-url".into(),
            "nats://t0kenK8s@h:4222".into(),
        ],
        vec![
            "s".to_owned(),
            "--config".into(),
            s(&inline).into(),
            "--nats-url".into(),
            "nats://nats.default.svc:4222".into(),
        ],
    ] {
        let o = render(args.clone()).await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?} printed objects");
        assert!(
            err.contains("Secret") && err.contains("--nats-url-secret"),
            "{args:?}: {err}"
        );
        for secret in ["k8sPassw0rd", "f1lePassw0rd", "t0kenK8s"] {
            assert!(!err.contains(secret), "{err}");
        }
    }
    // The URL with its credentials from a Secret: the objects name the
    // Secret, and hold no --nats-url.
    let o = render(vec![
        "ping".into(),
        "--nats-url-secret".into(),
        "nats-login".into(),
        "--control-token-secret".into(),
        "run-token".into(),
    ])
    .await;
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!text.contains("--nats-url"), "{text}");
    assert_eq!(
        text.matches("name: CLIFFLOAD_NATS_URL").count(),
        2,
        "{text}"
    );
    assert_eq!(text.matches("name: nats-login").count(), 2, "{text}");
    // Neither is refused.
    let o = render(vec!["ping".into()]).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// Issue 26: an exported password or token broke every run on the server
/// cliffload starts itself. They are not sent to it, and a note says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_credentials_do_not_break_a_run_on_the_embedded_server() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("out");
    let o = tokio::time::timeout(
        Duration::from_secs(30),
        crate::harness::cliffload()
            .args(["run", "ping", "--duration", "1s", "--users", "2", "--quiet"])
            .args(["--out", s(&out)])
            .env("CLIFFLOAD_NATS_USER", "alice")
            .env("CLIFFLOAD_NATS_PASSWORD", "exp0rtedpw")
            .env("CLIFFLOAD_NATS_TOKEN", "exp0rtedtoken")
            .output(),
    )
    .await
    .expect("in time")
    .expect("ran");
    let err = stderr(&o);
    let r = read_result(&out);
    crate::harness::assert_passed_but_for_speed(o.status.code(), &r, &err);
    assert_eq!(r["target"]["embedded"], true);
    assert_eq!(
        err.matches("CLIFFLOAD_NATS_PASSWORD and CLIFFLOAD_NATS_TOKEN set")
            .count(),
        1,
        "{err}"
    );
    assert!(!err.contains("exp0rted"), "{err}");
    // Our own server runs without JetStream for ping: the order service
    // does not look for it, so no line says its durable listener is off.
    assert!(!err.contains("JetStream"), "{err}");
}
