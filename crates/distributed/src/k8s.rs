//! `cliffload k8s render`: the Kubernetes objects of a distributed run.
//!
//! Launching workers is the user's engine's job; for Kubernetes that is an
//! Indexed Job whose pods run `cliffload worker --exit-after-run` and dial
//! out to NATS (no Service, no inbound port), plus a one-pod Job for the
//! coordinator with the scenario file from a ConfigMap. No operator: apply
//! it with `kubectl apply -f -`, delete it with `kubectl delete -f -`.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use serde_saphyr::LitStr;

/// What to render.
#[derive(Debug, Clone)]
pub struct K8sSpec<'a> {
    /// Object names start with this (a DNS label).
    pub name: &'a str,
    /// The scenario to run.
    pub scenario: &'a str,
    /// The scenario file's text, if the scenario is not a built-in one.
    pub config: Option<&'a str>,
    /// Worker pods.
    pub workers: u32,
    /// The NATS servers of the system under test (also the control server).
    pub nats_url: NatsUrl<'a>,
    /// The container image holding `cliffload`.
    pub image: &'a str,
    /// A Secret with key `token` holding the control token, if any.
    pub token_secret: Option<&'a str>,
    /// How long the load runs: the Jobs' deadlines follow it.
    pub duration: Duration,
    /// What each worker pod and the coordinator's pod ask for.
    pub resources: Resources,
    /// Seconds a finished Job, its pods and their logs are kept.
    pub ttl_s: u32,
    /// A PersistentVolumeClaim the coordinator writes its results into, if any.
    pub results_claim: Option<&'a str>,
    /// A Secret whose `url` key is the results history the coordinator
    /// remembers the run in (a team's PostgreSQL), if any.
    pub history_secret: Option<&'a str>,
}

/// Each pod's requests; its limits are twice them (memory: at least 256
/// MiB more), so that a pod past its estimate slows or grows rather than
/// being killed with its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    /// A worker pod's memory request, in MiB.
    pub worker_memory_mib: u64,
    /// A worker pod's CPU request, in millicores.
    pub worker_cpu_millis: u32,
    /// The coordinator's memory request, in MiB.
    pub coordinator_memory_mib: u64,
}

/// How long the coordinator waits for its workers (`--wait-workers`).
const WAIT_WORKERS_S: u64 = 300;
/// Beyond the wait and the load: preflight, the smoke calls, merging and
/// writing the results.
const DEADLINE_MARGIN_S: u64 = 300;
/// Where the coordinator writes its results when a claim is mounted.
const RESULTS_DIR: &str = "/results";

/// Where the pods find the NATS URL.
#[derive(Debug, Clone, Copy)]
pub enum NatsUrl<'a> {
    /// Written into the Jobs' args: a URL without credentials.
    Plain(&'a str),
    /// The `url` key of this Secret, read as `CLIFFLOAD_NATS_URL`: for a
    /// URL with credentials, which must not be in the objects themselves.
    Secret(&'a str),
}

/// The ConfigMap, the workers' Indexed Job and the coordinator's Job, as
/// one YAML stream. Built from values and serialised, so no name, image or
/// URL can break out of its field, whatever it holds.
pub fn render(spec: &K8sSpec<'_>) -> String {
    let mut out = format!(
        "# cliffload {}: {} workers for scenario {}; kubectl apply -f this. The coordinator's\n# log ends with the run's result.json:\n#   kubectl logs job/{}-coordinator | sed -n '/^{{/,$p' > result.json\n",
        crate::control::VERSION,
        spec.workers,
        one_line(spec.scenario),
        one_line(spec.name)
    );
    let documents = [
        yaml(&config_map(spec)),
        yaml(&workers_job(spec)),
        yaml(&coordinator_job(spec)),
    ];
    for d in documents {
        out.push_str("---\n");
        out.push_str(&d);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// `value` as YAML. Serialising plain maps, strings and numbers cannot
/// fail; were it to, the document says so rather than being cut.
fn yaml<T: Serialize>(value: &T) -> String {
    serde_saphyr::to_string(value).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
}

/// `s` for a comment line: a newline in a name would end the comment.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// The scenario file, mounted by the coordinator.
#[derive(Serialize)]
struct ConfigMap<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    metadata: Value,
    data: ScenarioData<'a>,
}

#[derive(Serialize)]
struct ScenarioData<'a> {
    #[serde(rename = "scenario.yaml")]
    scenario: LitStr<'a>,
}

fn config_map<'a>(spec: &K8sSpec<'a>) -> ConfigMap<'a> {
    ConfigMap {
        api_version: "v1",
        kind: "ConfigMap",
        metadata: json!({"name": format!("{}-scenario", spec.name)}),
        data: ScenarioData {
            scenario: LitStr(
                spec.config
                    .unwrap_or("# the built-in catalog: no changes\n{}\n"),
            ),
        },
    }
}

fn workers_job(spec: &K8sSpec<'_>) -> Value {
    let mut args = vec![json!("worker")];
    args.extend(url_args(spec));
    args.extend([
        json!("--name"),
        json!("worker-$(WORKER_INDEX)"),
        json!("--exit-after-run"),
    ]);
    let mut env = vec![json!({
        "name": "WORKER_INDEX",
        "valueFrom": {"fieldRef": {
            "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"
        }}
    })];
    env.extend(secret_env(spec));
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": format!("{}-workers", spec.name)},
        "spec": {
            "completionMode": "Indexed",
            "completions": spec.workers,
            "parallelism": spec.workers,
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_s(spec),
            "ttlSecondsAfterFinished": spec.ttl_s,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "cliffload-worker"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "worker",
                        "image": spec.image,
                        "args": args,
                        "env": env,
                        "resources": resources(
                            spec.resources.worker_memory_mib,
                            spec.resources.worker_cpu_millis,
                        ),
                        "securityContext": security_context(),
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                    }],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                }
            }
        }
    })
}

fn coordinator_job(spec: &K8sSpec<'_>) -> Value {
    let mut args = vec![
        json!("run"),
        json!(spec.scenario),
        json!("--config"),
        json!("/etc/cliffload/scenario.yaml"),
    ];
    args.extend(url_args(spec));
    args.extend([
        json!("--distributed"),
        json!(spec.workers.to_string()),
        json!("--wait-workers"),
        json!(format!("{WAIT_WORKERS_S}s")),
        // The result is the log's last record (kubectl logs keeps it until
        // the Job's TTL), and the claim's files when one is mounted.
        json!("--format"),
        json!("json"),
        json!("--quiet"),
    ]);
    let mut mounts = vec![
        json!({"name": "scenario", "mountPath": "/etc/cliffload"}),
        json!({"name": "tmp", "mountPath": "/tmp"}),
    ];
    let mut volumes = vec![
        json!({"name": "scenario", "configMap": {"name": format!("{}-scenario", spec.name)}}),
        json!({"name": "tmp", "emptyDir": {}}),
    ];
    if let Some(claim) = spec.results_claim {
        // One folder per run: the pod's name is unique.
        args.extend([json!("--out"), json!(format!("{RESULTS_DIR}/$(POD_NAME)"))]);
        mounts.push(json!({"name": "results", "mountPath": RESULTS_DIR}));
        volumes.push(json!({"name": "results", "persistentVolumeClaim": {"claimName": claim}}));
    }
    let mut env = vec![
        json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}),
    ];
    if spec.history_secret.is_none() {
        // A history file would go with the pod (and the root is read-only):
        // the result is kept by the log and the claim instead.
        env.push(json!({"name": "CLIFFLOAD_NO_HISTORY", "value": "true"}));
    }
    env.extend(secret_env(spec));
    if let Some(secret) = spec.history_secret {
        env.push(secret_entry("CLIFFLOAD_HISTORY", secret, "url"));
    }
    let container = json!({
        "name": "coordinator",
        "image": spec.image,
        "args": args,
        "env": env,
        "volumeMounts": mounts,
        "resources": resources(spec.resources.coordinator_memory_mib, 250),
        "securityContext": security_context(),
    });
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": format!("{}-coordinator", spec.name)},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_s(spec),
            "ttlSecondsAfterFinished": spec.ttl_s,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [container],
                    "volumes": volumes,
                }
            }
        }
    })
}

/// Both Jobs' deadline: the wait for the workers, the load, and a margin.
fn deadline_s(spec: &K8sSpec<'_>) -> u64 {
    WAIT_WORKERS_S + spec.duration.as_secs_f64().ceil() as u64 + DEADLINE_MARGIN_S
}

/// Requests, and limits twice them (memory: at least 256 MiB more).
fn resources(memory_mib: u64, cpu_millis: u32) -> Value {
    let limit_mib = (memory_mib * 2).max(memory_mib + 256);
    json!({
        "requests": {"cpu": format!("{cpu_millis}m"), "memory": format!("{memory_mib}Mi")},
        "limits": {"cpu": format!("{}m", cpu_millis * 2), "memory": format!("{limit_mib}Mi")},
    })
}

/// The image's user (not root), no privilege escalation, a read-only root.
fn security_context() -> Value {
    json!({
        "runAsNonRoot": true,
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "capabilities": {"drop": ["ALL"]},
    })
}

/// `--nats-url URL` for a plain URL; nothing when it comes from a Secret
/// (the variable `CLIFFLOAD_NATS_URL` gives it).
fn url_args(spec: &K8sSpec<'_>) -> Vec<Value> {
    match spec.nats_url {
        NatsUrl::Plain(url) => vec![json!("--nats-url"), json!(url)],
        NatsUrl::Secret(_) => Vec::new(),
    }
}

/// A container's `env` entries for the secrets it reads from Secrets: the
/// NATS URL with its credentials, the control token.
fn secret_env(spec: &K8sSpec<'_>) -> Vec<Value> {
    let mut env = Vec::new();
    if let NatsUrl::Secret(secret) = spec.nats_url {
        env.push(secret_entry("CLIFFLOAD_NATS_URL", secret, "url"));
    }
    if let Some(secret) = spec.token_secret {
        env.push(secret_entry("CLIFFLOAD_CONTROL_TOKEN", secret, "token"));
    }
    env
}

/// An `env` entry: variable `var` from key `key` of Secret `secret`.
fn secret_entry(var: &str, secret: &str, key: &str) -> Value {
    json!({"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
}

/// The pods' NATS URL: `url` (`--nats-url`) or the Secret `secret` holds
/// (`--nats-url-secret`). The objects are printed, applied, often
/// committed: anyone who can read a Job or a ConfigMap would read a secret
/// written into them, so a URL with credentials must come from a Secret.
pub fn nats_url<'a>(url: Option<&'a str>, secret: Option<&'a str>) -> Result<NatsUrl<'a>, String> {
    match (url, secret) {
        (_, Some(secret)) => Ok(NatsUrl::Secret(secret)),
        (Some(url), None) => {
            let access = cliffload_nats::NatsAccess::from_urls(&[url])
                .map_err(|e| format!("--nats-url: {e}"))?;
            if access.credentials != cliffload_nats::Credentials::None {
                return Err("--nats-url carries credentials, which would be written into the Jobs' args for anyone who can read them: \
                     put the URL in a Secret (kubectl create secret generic NAME --from-literal=url='nats://USER:PASSWORD@HOST:4222') \
                     and pass --nats-url-secret NAME instead"
                    .into());
            }
            Ok(NatsUrl::Plain(url))
        }
        (None, None) => Err("give --nats-url or --nats-url-secret".into()),
    }
}

/// The objects' name prefix: `name`, or `cliffload-SCENARIO`; a DNS label
/// with room for the suffixes added here.
pub fn object_name(name: Option<&str>, scenario: &str) -> Result<String, String> {
    let name = name.map_or_else(
        || format!("cliffload-{}", scenario.replace('_', "-")),
        str::to_owned,
    );
    let dns_label = !name.is_empty()
        && name.len() <= 52
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !dns_label {
        return Err(format!(
            "--name '{name}': Kubernetes object names are lower-case letters, digits and '-', at most 52 characters here (suffixes are added)"
        ));
    }
    Ok(name)
}

/// Pods reach NATS over the cluster's network: without a control token,
/// anyone there could give the workers work. A URL read from a Secret
/// cannot be seen here, so it needs a token too.
pub fn require_token(
    url: &NatsUrl<'_>,
    token_secret: Option<&str>,
    name: &str,
) -> Result<(), String> {
    let server = match url {
        NatsUrl::Plain(url) if crate::trust::all_loopback(&[url]) => None,
        NatsUrl::Plain(url) => Some(format!("the pods' NATS server {url} is not on loopback")),
        NatsUrl::Secret(s) => Some(format!(
            "the pods' NATS server (in Secret {s}) cannot be checked to be on loopback"
        )),
    };
    match (token_secret, server) {
        (None, Some(server)) => Err(format!(
            "k8s render needs --control-token-secret SECRET: {server}, and without a control token anyone who may publish there could give the workers work and forge the run's results. Create one with `kubectl create secret generic {name}-token --from-literal=token=$(openssl rand -hex 32)` and pass --control-token-secret {name}-token"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> K8sSpec<'static> {
        K8sSpec {
            name: "ping-load",
            scenario: "ping",
            config: Some("scenarios:\n  ping:\n    users: 30\n"),
            workers: 3,
            nats_url: NatsUrl::Plain("nats://nats.default.svc:4222"),
            image: "ghcr.io/example/cliffload:0.1.0",
            token_secret: Some("cliffload-control"),
            duration: Duration::from_secs(60),
            resources: Resources {
                worker_memory_mib: 64,
                worker_cpu_millis: 1000,
                coordinator_memory_mib: 80,
            },
            ttl_s: 86_400,
            results_claim: None,
            history_secret: None,
        }
    }

    /// The rendered objects, parsed (the header comment left out).
    fn documents(text: &str) -> Vec<serde_json::Value> {
        text.split("\n---\n")
            .skip(1)
            .map(|d| serde_saphyr::from_str(d).expect("valid YAML"))
            .collect()
    }

    #[test]
    fn renders_an_indexed_job_of_workers_a_coordinator_and_the_scenario() {
        insta::assert_snapshot!(render(&spec()));
    }

    /// Issue 32: deadlines follow the load's duration; a claim keeps the
    /// results in a folder per run; limits stay above requests.
    #[test]
    fn deadlines_follow_the_load_and_a_claim_keeps_the_results() {
        let mut s = spec();
        s.duration = Duration::from_secs(3600);
        s.results_claim = Some("load-results");
        let text = render(&s);
        let docs = documents(&text);
        for job in &docs[1..] {
            assert_eq!(job["spec"]["activeDeadlineSeconds"], 300 + 3600 + 300);
            assert_eq!(job["spec"]["ttlSecondsAfterFinished"], 86_400);
        }
        let pod = &docs[2]["spec"]["template"]["spec"];
        let args = pod["containers"][0]["args"].as_array().expect("args");
        let out = args.iter().position(|a| a == "--out").expect("--out");
        assert_eq!(args[out + 1], "/results/$(POD_NAME)");
        assert_eq!(
            pod["volumes"][2]["persistentVolumeClaim"]["claimName"],
            "load-results"
        );
        // Without a claim nothing is mounted there and the log carries the result.
        let plain = render(&spec());
        assert!(!plain.contains("persistentVolumeClaim") && !plain.contains("--out"));
        assert_eq!(
            resources(1000, 500)["limits"],
            serde_json::json!({"cpu": "1000m", "memory": "2000Mi"})
        );
    }

    /// The coordinator remembers the run in the history a Secret names
    /// (no history otherwise: its files would go with the pod).
    #[test]
    fn a_history_secret_gives_the_coordinator_its_history() {
        let env_of = |s: &K8sSpec<'_>| {
            let docs = documents(&render(s));
            docs[2]["spec"]["template"]["spec"]["containers"][0]["env"].clone()
        };
        let find = |env: &serde_json::Value, var: &str| {
            env.as_array()
                .into_iter()
                .flatten()
                .find(|e| e["name"] == var)
                .cloned()
        };
        let plain = env_of(&spec());
        assert_eq!(
            find(&plain, "CLIFFLOAD_NO_HISTORY").map(|e| e["value"].clone()),
            Some(serde_json::json!("true"))
        );
        assert_eq!(find(&plain, "CLIFFLOAD_HISTORY"), None);
        let mut s = spec();
        s.history_secret = Some("results-db");
        let kept = env_of(&s);
        assert_eq!(find(&kept, "CLIFFLOAD_NO_HISTORY"), None, "{kept}");
        assert_eq!(
            find(&kept, "CLIFFLOAD_HISTORY").map(|e| e["valueFrom"]["secretKeyRef"].clone()),
            Some(serde_json::json!({"name": "results-db", "key": "url"})),
            "{kept}"
        );
        // The workers keep none either way.
        let workers = &documents(&render(&s))[1]["spec"]["template"]["spec"]["containers"][0];
        assert!(
            !workers.to_string().contains("CLIFFLOAD_HISTORY"),
            "{workers}"
        );
    }

    #[test]
    fn every_document_is_valid_yaml_with_the_values_quoted() {
        let mut s = spec();
        s.nats_url = NatsUrl::Plain("nats://host:4222\", \"--evil");
        let text = render(&s);
        let docs: Vec<&str> = text.split("\n---\n").skip(1).collect();
        assert_eq!(docs.len(), 3);
        for d in docs {
            let v: serde_json::Value = serde_saphyr::from_str(d).expect("valid YAML");
            assert!(v["kind"].is_string(), "{d}");
        }
        // The hostile URL stays one argument: the next one is --name.
        let workers: serde_json::Value =
            serde_saphyr::from_str(text.split("\n---\n").nth(2).expect("the workers' Job"))
                .expect("valid YAML");
        let args = &workers["spec"]["template"]["spec"]["containers"][0]["args"];
        assert_eq!(args[2], "nats://host:4222\", \"--evil", "{args}");
        assert_eq!(args[3], "--name", "{args}");
    }

    /// Issue 26: a URL with credentials comes from a Secret, read by both
    /// Jobs as CLIFFLOAD_NATS_URL; no `--nats-url` in their args.
    #[test]
    fn a_url_from_a_secret_is_read_from_the_environment_of_both_jobs() {
        let mut s = spec();
        s.nats_url = NatsUrl::Secret("nats-login");
        let text = render(&s);
        assert!(!text.contains("--nats-url"), "{text}");
        let docs = documents(&text);
        for job in &docs[1..] {
            let env = &job["spec"]["template"]["spec"]["containers"][0]["env"];
            let from = |var: &str| {
                env.as_array()
                    .into_iter()
                    .flatten()
                    .find(|e| e["name"] == var)
                    .map(|e| e["valueFrom"]["secretKeyRef"].clone())
            };
            assert_eq!(
                from("CLIFFLOAD_NATS_URL"),
                Some(serde_json::json!({"name": "nats-login", "key": "url"})),
                "{job}"
            );
            assert_eq!(
                from("CLIFFLOAD_CONTROL_TOKEN"),
                Some(serde_json::json!({"name": "cliffload-control", "key": "token"})),
                "{job}"
            );
        }
    }

    #[test]
    fn names_urls_and_tokens_are_checked_before_anything_is_rendered() {
        assert_eq!(
            object_name(None, "high_throughput").as_deref(),
            Ok("cliffload-high-throughput")
        );
        for bad in ["Bad_Name", "-x", "x-", "", &"a".repeat(53)] {
            let e = object_name(Some(bad), "ping").expect_err(bad);
            assert!(e.starts_with("--name"), "{e}");
        }
        let e = nats_url(Some("nats://u:p@nats:4222"), None).expect_err("credentials");
        assert!(e.contains("--nats-url-secret"), "{e}");
        assert!(matches!(
            nats_url(Some("nats://u:p@nats:4222"), Some("s")),
            Ok(NatsUrl::Secret("s"))
        ));
        assert!(nats_url(None, None).is_err());
        let cluster = NatsUrl::Plain("nats://nats.default.svc:4222");
        let e = require_token(&cluster, None, "run").expect_err("no token off loopback");
        assert!(e.contains("--control-token-secret run-token"), "{e}");
        assert!(require_token(&cluster, Some("t"), "run").is_ok());
        assert!(require_token(&NatsUrl::Plain("nats://127.0.0.1:1"), None, "run").is_ok());
        assert!(require_token(&NatsUrl::Secret("s"), None, "run").is_err());
    }
}
