//! `cliffload k8s render`: the Kubernetes objects of a distributed run.

use anyhow::{Result, bail};
use cliffload_distributed::k8s::{K8sSpec, NatsUrl, render};
use cliffload_scenario::ScenarioFile;

use crate::args::{K8sArgs, K8sCommand, K8sRenderArgs};
use cliffload_run::exit;

pub fn k8s(args: K8sArgs) -> Result<u8> {
    let K8sCommand::Render(a) = args.command;
    // The scenario must exist (and its file be valid) before anything is applied.
    // Read once: the file may be a pipe (`--config <(…)`).
    let (file, config) = match &a.config {
        Some(p) => {
            let text = ScenarioFile::read(p)?;
            let file = ScenarioFile::parse_over_catalog(&text, &p.display().to_string())?;
            (file, Some(text))
        }
        None => (cliffload_scenario::catalog::builtin(), None),
    };
    file.get(&a.scenario)?;
    let nats_url = nats_url(&a)?;
    if let (Some(path), Some(key)) = (&a.config, file.settings.nats_login.inline_secrets.first()) {
        bail!(
            "--config {}: {key} is written in the file, which would be shipped in a ConfigMap for anyone who can read it: \
             remove it, put the NATS URL with its credentials in a Secret \
             (kubectl create secret generic NAME --from-literal=url='nats://USER:PASSWORD@HOST:4222') \
             and pass --nats-url-secret NAME",
            path.display()
        );
    }
    let name = object_name(&a)?;
    require_token(&a, &nats_url, &name)?;
    out!(
        "{}",
        render(&K8sSpec {
            name: &name,
            scenario: &a.scenario,
            config: config.as_deref(),
            workers: a.distributed,
            nats_url,
            image: &a.image,
            token_secret: a.control_token_secret.as_deref(),
        })
    );
    Ok(exit::OK)
}

/// The pods' NATS URL. The objects are printed, applied, often committed:
/// anyone who can read a Job or a ConfigMap would read a secret written
/// into them, so a URL with credentials must come from a Secret.
fn nats_url(a: &K8sRenderArgs) -> Result<NatsUrl<'_>> {
    match (&a.nats_url, &a.nats_url_secret) {
        (_, Some(secret)) => Ok(NatsUrl::Secret(secret)),
        (Some(url), None) => {
            let access = cliffload_nats::NatsAccess::from_urls(&[url])
                .map_err(|e| anyhow::anyhow!("--nats-url: {e}"))?;
            if access.credentials != cliffload_nats::Credentials::None {
                bail!(
                    "--nats-url carries credentials, which would be written into the Jobs' args for anyone who can read them: \
                     put the URL in a Secret (kubectl create secret generic NAME --from-literal=url='nats://USER:PASSWORD@HOST:4222') \
                     and pass --nats-url-secret NAME instead"
                );
            }
            Ok(NatsUrl::Plain(url))
        }
        (None, None) => bail!("give --nats-url or --nats-url-secret"),
    }
}

/// `--name`, or `cliffload-SCENARIO`: a DNS label with room for suffixes.
fn object_name(a: &K8sRenderArgs) -> Result<String> {
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| format!("cliffload-{}", a.scenario.replace('_', "-")));
    let dns_label = !name.is_empty()
        && name.len() <= 52
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !dns_label {
        bail!(
            "--name '{name}': Kubernetes object names are lower-case letters, digits and '-', at most 52 characters here (suffixes are added)"
        );
    }
    Ok(name)
}

/// Pods reach NATS over the cluster's network: without a control token,
/// anyone there could give the workers work. (A URL read from a Secret
/// cannot be seen here, so it needs a token too.)
fn require_token(a: &K8sRenderArgs, nats_url: &NatsUrl<'_>, name: &str) -> Result<()> {
    let server = match nats_url {
        NatsUrl::Plain(url) if cliffload_distributed::trust::all_loopback(&[url]) => None,
        NatsUrl::Plain(url) => Some(format!("the pods' NATS server {url} is not on loopback")),
        NatsUrl::Secret(s) => Some(format!(
            "the pods' NATS server (in Secret {s}) cannot be checked to be on loopback"
        )),
    };
    if let (None, Some(server)) = (&a.control_token_secret, server) {
        bail!(
            "k8s render needs --control-token-secret SECRET: {server}, and without a control token anyone who may publish there could give the workers work and forge the run's results. Create one with `kubectl create secret generic {name}-token --from-literal=token=$(openssl rand -hex 32)` and pass --control-token-secret {name}-token"
        );
    }
    Ok(())
}
