//! `cliffload k8s render`: the Kubernetes objects of a distributed run.

use anyhow::{Result, bail};
use cliffload_distributed::k8s::{self, K8sSpec, Resources, render};
use cliffload_scenario::ScenarioFile;

use crate::args::{K8sArgs, K8sCommand};
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
    let scenario = file.get(&a.scenario)?;
    let nats_url = k8s::nats_url(a.nats_url.as_deref(), a.nats_url_secret.as_deref())
        .map_err(anyhow::Error::msg)?;
    if let (Some(path), Some(key)) = (&a.config, file.settings.nats_login.inline_secrets.first()) {
        bail!(
            "--config {}: {key} is written in the file, which would be shipped in a ConfigMap for anyone who can read it: \
             remove it, put the NATS URL with its credentials in a Secret \
             (kubectl create secret generic NAME --from-literal=url='nats://USER:PASSWORD@HOST:4222') \
             and pass --nats-url-secret NAME",
            path.display()
        );
    }
    let name = k8s::object_name(a.name.as_deref(), &a.scenario).map_err(anyhow::Error::msg)?;
    k8s::require_token(&nats_url, a.control_token_secret.as_deref(), &name)
        .map_err(anyhow::Error::msg)?;
    let ttl = cliffload_scenario::parse_duration(&a.ttl).map_err(anyhow::Error::msg)?;
    let mib = |bytes: u64| bytes.div_ceil(1 << 20);
    let resources = Resources {
        worker_memory_mib: a.worker_memory.unwrap_or_else(|| {
            mib(cliffload_engine::memory::process_bytes(
                scenario,
                a.distributed,
            ))
        }),
        worker_cpu_millis: a.worker_cpu,
        coordinator_memory_mib: mib(cliffload_engine::memory::merger_bytes(scenario)),
    };
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
            duration: scenario.duration,
            resources,
            ttl_s: u32::try_from(ttl.as_secs()).unwrap_or(u32::MAX),
            results_claim: a.results_claim.as_deref(),
            history_secret: a.history_secret.as_deref(),
        })
    );
    Ok(exit::OK)
}
