//! The file-wide sections: data generation, environment, reporting, stages.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use super::*;
use crate::{Claims, ConfigError, DataGeneration, Settings, Stages};

pub(super) fn metadata_kb(raw: &RawFile) -> Result<(usize, usize), ConfigError> {
    raw.data_generation
        .as_ref()
        .and_then(|d| d.payload_complexity.as_ref())
        .and_then(|p| p.metadata_size_kb.as_deref())
        .map(|v| {
            range(
                "data_generation.payload_complexity.metadata_size_kb",
                v,
                1024,
            )
        })
        .transpose()
        .map(|v| v.unwrap_or((1, 1)))
}

/// `advanced.gradual_load_increase`: whether it is on, and its stages.
/// Stages in error (kept in `errors`) stand in as one step, so a scenario
/// that follows them is not also told there are none.
pub(super) fn gradual_stages(
    raw: &RawFile,
    errors: &mut Vec<ConfigError>,
) -> Option<(bool, Stages)> {
    let g = raw.advanced.as_ref()?.gradual_load_increase.as_ref()?;
    let stages = keep(stages(g), errors).unwrap_or(Stages::Steps {
        steps: vec![1],
        step_duration: Duration::from_secs(60),
    });
    Some((g.enabled.unwrap_or(false), stages))
}

pub(super) fn data_generation(
    d: Option<&RawDataGeneration>,
) -> Result<DataGeneration, ConfigError> {
    let mut out = DataGeneration::default();
    let Some(d) = d else { return Ok(out) };
    let p = "data_generation";
    let mut errors = Vec::new();
    for (key, v, field) in [
        (
            "customer_pool_size",
            d.customer_pool_size,
            &mut out.customer_pool_size,
        ),
        (
            "product_pool_size",
            d.product_pool_size,
            &mut out.product_pool_size,
        ),
        (
            "payload_pool_size",
            d.payload_pool_size,
            &mut out.payload_pool_size,
        ),
    ] {
        if let Some(v) = v
            && let Some(n) = keep(count(&format!("{p}.{key}"), v, 1_000_000), &mut errors)
        {
            *field = n;
        }
    }
    if let Some(o) = &d.order_complexity
        && let Some(items) = keep(order_items(p, o, out.order_items), &mut errors)
    {
        out.order_items = items;
    }
    none_of(errors)?;
    Ok(out)
}

/// `order_complexity`: items per order, min, max and average (`default` where not given).
fn order_items(
    p: &str,
    o: &RawOrderComplexity,
    default: (usize, usize, f64),
) -> Result<(usize, usize, f64), ConfigError> {
    let path = format!("{p}.order_complexity");
    let mut errors = Vec::new();
    let mut items = |key: &str, v: Option<i64>, default: usize| match v {
        None => Some(default),
        Some(v) => keep(count(&format!("{path}.{key}"), v, 100), &mut errors),
    };
    let (min, max) = (
        items("min_items", o.min_items, default.0),
        items("max_items", o.max_items, default.1),
    );
    let (Some(min), Some(max)) = (min, max) else {
        return none_of(errors).map(|()| default);
    };
    let avg = o.average_items.unwrap_or(default.2);
    if min > max {
        return Err(invalid(
            &path,
            format!("min_items {min} is above max_items {max}"),
        ));
    }
    if !(min as f64..=max as f64).contains(&avg) {
        return Err(invalid(
            format!("{path}.average_items"),
            format!("must be between min_items and max_items ({min} to {max}), got {avg}"),
        ));
    }
    Ok((min, max, avg))
}

/// The named analytics batch sizes; one in error (kept in `errors`) stands
/// in as `(1, 1)`, so a task naming it is not also told it does not exist.
pub(super) fn analytics_sizes(
    d: Option<&RawDataGeneration>,
    errors: &mut Vec<ConfigError>,
) -> BTreeMap<String, (usize, usize)> {
    let mut out: BTreeMap<String, (usize, usize)> = [
        ("small", (5, 20)),
        ("medium", (20, 100)),
        ("large", (100, 500)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(sizes) = d.and_then(|d| d.analytics_batch_sizes.as_ref()) {
        for (k, v) in sizes {
            let size = range(
                &format!("data_generation.analytics_batch_sizes.{k}"),
                v,
                10_000,
            );
            out.insert(k.clone(), keep(size, errors).unwrap_or((1, 1)));
        }
    }
    out
}

pub(super) fn settings(raw: &RawFile) -> Result<Settings, ConfigError> {
    let env = raw.environment.as_ref();
    let claims = raw
        .reporting
        .as_ref()
        .and_then(|r| r.benchmark_claims.as_ref());
    let adv = raw.advanced.as_ref();
    let leak = adv
        .and_then(|a| a.memory_leak_detection.as_ref())
        .filter(|l| l.enabled.unwrap_or(false));
    let regression = adv
        .and_then(|a| a.regression_detection.as_ref())
        .filter(|r| r.enabled.unwrap_or(false));
    let mut errors = Vec::new();
    if let Some(rps) = claims.and_then(|c| c.high_throughput_claim)
        && !(rps.is_finite() && rps > 0.0)
    {
        errors.push(invalid(
            "reporting.benchmark_claims.high_throughput_claim",
            format!("must be > 0 requests/s, got {rps}"),
        ));
    }
    if let Some(url) = env.and_then(|e| e.nats_url.as_deref()) {
        keep(nats_url(url), &mut errors);
    }
    let reference_latency_none = keep(reference_latency(env), &mut errors);
    let nats_login = env.and_then(|e| keep(nats_login(e), &mut errors));
    let frameworks = keep(frameworks(raw), &mut errors);
    none_of(errors)?;
    Ok(Settings {
        reference_latency_none: reference_latency_none.unwrap_or(false),
        nats_url: env.and_then(|e| e.nats_url.clone()),
        nats_login: nats_login.unwrap_or_default(),
        nats_monitoring_url: env.and_then(|e| e.nats_monitoring_url.clone()),
        claims: Claims {
            sub_millisecond: claims
                .and_then(|c| c.sub_millisecond_claim)
                .unwrap_or(false),
            ten_x_faster_than_rest: claims
                .and_then(|c| c.ten_x_faster_than_rest)
                .unwrap_or(false),
            high_throughput_rps: claims.and_then(|c| c.high_throughput_claim),
        },
        max_memory_increase_mb: leak.and_then(|l| l.max_memory_increase_mb),
        max_degradation_percent: regression.and_then(|r| r.max_performance_degradation_percent),
        baseline_results_path: regression.and_then(|r| r.baseline_results_path.clone()),
        frameworks: frameworks.unwrap_or_default(),
    })
}

/// `environment.nats_url`: a NATS URL, its user info never repeated.
fn nats_url(url: &str) -> Result<(), ConfigError> {
    if ["nats://", "tls://", "ws://", "wss://"]
        .iter()
        .any(|s| url.starts_with(s))
    {
        return Ok(());
    }
    // The user info of a scheme-less URL is a secret too (issue 26).
    let shown = match url.rfind('@') {
        Some(at) => format!("***{}", &url[at..]),
        None => url.to_owned(),
    };
    Err(invalid(
        "environment.nats_url",
        format!("{shown:?} is not a NATS URL (nats://HOST:PORT)"),
    ))
}

/// `environment.reference_service_latency`: true for `none`.
fn reference_latency(env: Option<&RawEnvironment>) -> Result<bool, ConfigError> {
    match env.and_then(|e| e.reference_service_latency.as_deref()) {
        None | Some("realistic") => Ok(false),
        Some("none") => Ok(true),
        Some(other) => Err(invalid(
            "environment.reference_service_latency",
            format!("{other:?}: one of realistic, none"),
        )),
    }
}

/// `comparison_frameworks`: each with an HTTP `endpoint` or a Celery `broker_url`.
fn frameworks(raw: &RawFile) -> Result<Vec<crate::Framework>, ConfigError> {
    let Some(all) = &raw.comparison_frameworks else {
        return Ok(Vec::new());
    };
    let mut errors = Vec::new();
    let out = all
        .iter()
        .filter_map(|(name, f)| keep(framework(name, f), &mut errors))
        .collect();
    none_of(errors)?;
    Ok(out)
}

/// One of `comparison_frameworks`.
fn framework(name: &str, f: &RawFramework) -> Result<crate::Framework, ConfigError> {
    let p = format!("comparison_frameworks.{name}");
    let target = match (&f.endpoint, &f.broker_url) {
        (Some(url), None) if url.starts_with("http://") => {
            crate::FrameworkTarget::Http(url.trim_end_matches('/').to_owned())
        }
        (Some(url), None) => {
            return Err(invalid(
                format!("{p}.endpoint"),
                format!("'{url}' is not plain HTTP (http://HOST:PORT)"),
            ));
        }
        (None, Some(url)) if url.starts_with("redis://") => crate::FrameworkTarget::Celery {
            broker_url: url.clone(),
            queue: f.queue.clone().unwrap_or_else(|| "celery".to_owned()),
        },
        (None, Some(url)) => {
            return Err(invalid(
                format!("{p}.broker_url"),
                format!("'{url}' is not a Redis URL (redis://HOST:PORT)"),
            ));
        }
        _ => {
            return Err(invalid(
                p,
                "give either endpoint (an HTTP framework) or broker_url (Celery with Redis)",
            ));
        }
    };
    Ok(crate::Framework {
        name: name.to_owned(),
        enabled: f.enabled.unwrap_or(false),
        target,
        scenarios: f.scenarios.clone().unwrap_or_default(),
    })
}

pub(super) fn stages(g: &RawGradual) -> Result<Stages, ConfigError> {
    let p = "advanced.gradual_load_increase";
    let mut errors = Vec::new();
    let steps = g.steps.clone().unwrap_or_default();
    if steps.is_empty() {
        errors.push(invalid(
            format!("{p}.steps"),
            "is empty; list the users of each step, e.g. [10, 25, 50]",
        ));
    }
    let steps: Vec<u32> = steps
        .iter()
        .enumerate()
        .filter_map(|(i, v)| keep(positive_u32(&format!("{p}.steps[{i}]"), *v), &mut errors))
        .map(NonZeroU32::get)
        .collect();
    let step_duration = match &g.step_duration_seconds {
        Some(d) => keep(
            duration(
                &format!("{p}.step_duration_seconds"),
                d,
                BareNumber::Seconds,
            ),
            &mut errors,
        ),
        None => Some(Duration::from_secs(60)),
    };
    if step_duration.is_some_and(|d| d.is_zero()) {
        errors.push(invalid(format!("{p}.step_duration_seconds"), "must be > 0"));
    }
    none_of(errors)?;
    let step_duration = step_duration.unwrap_or_default();
    Ok(Stages::Steps {
        steps,
        step_duration,
    })
}

/// `environment`'s login keys; a secret file is read here (trailing newline
/// dropped), so a missing one is a config error naming its key.
pub(super) fn nats_login(e: &RawEnvironment) -> Result<crate::NatsLogin, ConfigError> {
    let secret = |inline: &Option<String>, file: &Option<String>, key: &str| match (inline, file) {
        (Some(_), Some(_)) => Err(invalid(
            format!("environment.{key}_file"),
            format!("give {key} or {key}_file, not both"),
        )),
        (Some(s), None) => Ok(Some(crate::Secret::new(s.clone()))),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| Some(crate::Secret::new(s.trim_end_matches(['\n', '\r']))))
            .map_err(|err| {
                invalid(
                    format!("environment.{key}_file"),
                    format!("cannot read {path}: {}", crate::error::io_words(&err)),
                )
            }),
        (None, None) => Ok(None),
    };
    let path = |p: &Option<String>| p.as_ref().map(std::path::PathBuf::from);
    let mut errors = Vec::new();
    let password = secret(&e.nats_password, &e.nats_password_file, "nats_password");
    let password = keep(password, &mut errors).flatten();
    let token = keep(
        secret(&e.nats_token, &e.nats_token_file, "nats_token"),
        &mut errors,
    );
    none_of(errors)?;
    Ok(crate::NatsLogin {
        user: e.nats_user.clone(),
        password,
        token: token.flatten(),
        nkey_file: path(&e.nats_nkey_file),
        credentials_file: path(&e.nats_credentials_file),
        tls_ca: path(&e.nats_tls_ca),
        tls_cert: path(&e.nats_tls_cert),
        tls_key: path(&e.nats_tls_key),
        tls_first: e.nats_tls_first.unwrap_or(false),
        inline_secrets: [
            ("environment.nats_password", e.nats_password.is_some()),
            ("environment.nats_token", e.nats_token.is_some()),
            (
                "environment.nats_url",
                e.nats_url.as_deref().is_some_and(|u| u.contains('@')),
            ),
        ]
        .into_iter()
        .filter_map(|(key, inline)| inline.then_some(key))
        .collect(),
    })
}
