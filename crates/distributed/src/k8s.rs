//! `cliffload k8s render`: the Kubernetes objects of a distributed run.
//!
//! Launching workers is the user's engine's job; for Kubernetes that is an
//! Indexed Job whose pods run `cliffload worker --exit-after-run` and dial
//! out to NATS (no Service, no inbound port), plus a one-pod Job for the
//! coordinator with the scenario file from a ConfigMap. No operator: apply
//! it with `kubectl apply -f -`, delete it with `kubectl delete -f -`.

use std::fmt::Write as _;

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
}

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
/// one YAML stream.
pub fn render(spec: &K8sSpec<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# cliffload {}: {} workers for scenario {}; kubectl apply -f this, then read the\n# coordinator's log (kubectl logs job/{}-coordinator).",
        crate::control::VERSION,
        spec.workers,
        spec.scenario,
        spec.name
    );
    config_map(&mut out, spec);
    workers_job(&mut out, spec);
    coordinator_job(&mut out, spec);
    out
}

fn config_map(out: &mut String, spec: &K8sSpec<'_>) {
    let _ = writeln!(
        out,
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}-scenario\ndata:\n  scenario.yaml: |",
        spec.name
    );
    let text = spec
        .config
        .unwrap_or("# the built-in catalog: no changes\n{}\n");
    for line in text.lines() {
        let _ = writeln!(out, "    {line}");
    }
}

fn workers_job(out: &mut String, spec: &K8sSpec<'_>) {
    let _ = writeln!(
        out,
        "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}-workers\nspec:\n  completionMode: Indexed\n  completions: {n}\n  parallelism: {n}\n  backoffLimit: 0\n  template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: cliffload-worker\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: worker\n          image: {image}\n          args: [\"worker\", {url}\"--name\", \"worker-$(WORKER_INDEX)\", \"--exit-after-run\"]\n          env:\n            - name: WORKER_INDEX\n              valueFrom:\n                fieldRef:\n                  fieldPath: metadata.annotations['batch.kubernetes.io/job-completion-index']",
        name = spec.name,
        n = spec.workers,
        image = quoted(spec.image),
        url = url_args(spec),
    );
    out.push_str(&secret_env(spec));
}

fn coordinator_job(out: &mut String, spec: &K8sSpec<'_>) {
    let _ = writeln!(
        out,
        "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}-coordinator\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: coordinator\n          image: {image}\n          args: [\"run\", {scenario}, \"--config\", \"/etc/cliffload/scenario.yaml\", {url}\"--distributed\", \"{n}\", \"--wait-workers\", \"300s\"]\n          volumeMounts:\n            - name: scenario\n              mountPath: /etc/cliffload\n      volumes:\n        - name: scenario\n          configMap:\n            name: {name}-scenario",
        name = spec.name,
        n = spec.workers,
        image = quoted(spec.image),
        url = url_args(spec),
        scenario = quoted(spec.scenario),
    );
    // The coordinator's container is the one before the volumes: its
    // secrets go with it.
    let env = secret_env(spec);
    if !env.is_empty()
        && let Some(at) = out.rfind("          volumeMounts:")
    {
        out.insert_str(at, &format!("          env:\n{env}"));
    }
}

/// `"--nats-url", URL, ` for a plain URL; nothing when it comes from a
/// Secret (the variable `CLIFFLOAD_NATS_URL` gives it).
fn url_args(spec: &K8sSpec<'_>) -> String {
    match spec.nats_url {
        NatsUrl::Plain(url) => format!("\"--nats-url\", {}, ", quoted(url)),
        NatsUrl::Secret(_) => String::new(),
    }
}

/// A container's `env` entries for the secrets it reads from Secrets: the
/// NATS URL with its credentials, the control token.
fn secret_env(spec: &K8sSpec<'_>) -> String {
    let entry = |var: &str, secret: &str, key: &str| {
        format!(
            "            - name: {var}\n              valueFrom:\n                secretKeyRef:\n                  name: {}\n                  key: {key}\n",
            quoted(secret)
        )
    };
    let mut env = String::new();
    if let NatsUrl::Secret(secret) = spec.nats_url {
        env.push_str(&entry("CLIFFLOAD_NATS_URL", secret, "url"));
    }
    if let Some(secret) = spec.token_secret {
        env.push_str(&entry("CLIFFLOAD_CONTROL_TOKEN", secret, "token"));
    }
    env
}

/// A YAML double-quoted scalar (JSON's quoting is valid YAML).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
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
        }
    }

    #[test]
    fn renders_an_indexed_job_of_workers_a_coordinator_and_the_scenario() {
        insta::assert_snapshot!(render(&spec()));
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
        assert!(text.contains(r#""nats://host:4222\", \"--evil""#));
    }

    /// Issue 26: a URL with credentials comes from a Secret, read by both
    /// Jobs as CLIFFLOAD_NATS_URL; no `--nats-url` in their args.
    #[test]
    fn a_url_from_a_secret_is_read_from_the_environment_of_both_jobs() {
        let mut s = spec();
        s.nats_url = NatsUrl::Secret("nats-login");
        let text = render(&s);
        assert!(!text.contains("--nats-url"), "{text}");
        let docs: Vec<serde_json::Value> = text
            .split("\n---\n")
            .skip(1)
            .map(|d| serde_saphyr::from_str(d).expect("valid YAML"))
            .collect();
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
}
