//! `cliffload k8s render`: the Kubernetes objects of a distributed run.

use anyhow::{Result, bail};
use cliffload_dist::k8s::{K8sSpec, render};

use crate::args::{K8sArgs, K8sCommand};
use crate::exit;

pub fn k8s(args: K8sArgs) -> Result<u8> {
    let K8sCommand::Render(a) = args.command;
    // The scenario must exist (and its file be valid) before anything is applied.
    let file = crate::run::scenario_file(a.config.as_deref())?;
    file.get(&a.scenario)?;
    let config = match &a.config {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("--config {}: cannot read it ({e})", p.display()))?,
        ),
        None => None,
    };
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
    if a.control_token_secret.is_none() && !cliffload_dist::trust::all_loopback(&[&a.nats_url]) {
        bail!(
            "k8s render needs --control-token-secret SECRET: the pods' NATS server {} is not on loopback, and without a control token anyone who may publish there could give the workers work and forge the run's results. Create one with `kubectl create secret generic {name}-token --from-literal=token=$(openssl rand -hex 32)` and pass --control-token-secret {name}-token",
            a.nats_url
        );
    }
    print!(
        "{}",
        render(&K8sSpec {
            name: &name,
            scenario: &a.scenario,
            config: config.as_deref(),
            workers: a.distributed,
            nats_url: &a.nats_url,
            image: &a.image,
            token_secret: a.control_token_secret.as_deref(),
        })
    );
    Ok(exit::OK)
}
