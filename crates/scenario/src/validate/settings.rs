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
pub(super) fn gradual_stages(raw: &RawFile) -> Result<Option<(bool, Stages)>, ConfigError> {
    raw.advanced
        .as_ref()
        .and_then(|a| a.gradual_load_increase.as_ref())
        .map(|g| Ok((g.enabled.unwrap_or(false), stages(g)?)))
        .transpose()
}

pub(super) fn data_generation(
    d: Option<&RawDataGeneration>,
) -> Result<DataGeneration, ConfigError> {
    let mut out = DataGeneration::default();
    let Some(d) = d else { return Ok(out) };
    let p = "data_generation";
    if let Some(v) = d.customer_pool_size {
        out.customer_pool_size = count(&format!("{p}.customer_pool_size"), v, 1_000_000)?;
    }
    if let Some(v) = d.product_pool_size {
        out.product_pool_size = count(&format!("{p}.product_pool_size"), v, 1_000_000)?;
    }
    if let Some(v) = d.payload_pool_size {
        out.payload_pool_size = count(&format!("{p}.payload_pool_size"), v, 1_000_000)?;
    }
    if let Some(o) = &d.order_complexity {
        let path = format!("{p}.order_complexity");
        let min = o.min_items.map_or(Ok(out.order_items.0), |v| {
            count(&format!("{path}.min_items"), v, 100)
        })?;
        let max = o.max_items.map_or(Ok(out.order_items.1), |v| {
            count(&format!("{path}.max_items"), v, 100)
        })?;
        let avg = o.average_items.unwrap_or(out.order_items.2);
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
        out.order_items = (min, max, avg);
    }
    Ok(out)
}

pub(super) fn analytics_sizes(
    d: Option<&RawDataGeneration>,
) -> Result<BTreeMap<String, (usize, usize)>, ConfigError> {
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
            out.insert(
                k.clone(),
                range(
                    &format!("data_generation.analytics_batch_sizes.{k}"),
                    v,
                    10_000,
                )?,
            );
        }
    }
    Ok(out)
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
    if let Some(rps) = claims.and_then(|c| c.high_throughput_claim)
        && !(rps.is_finite() && rps > 0.0)
    {
        return Err(invalid(
            "reporting.benchmark_claims.high_throughput_claim",
            format!("must be > 0 requests/s, got {rps}"),
        ));
    }
    if let Some(url) = env.and_then(|e| e.nats_url.as_deref())
        && !(url.starts_with("nats://")
            || url.starts_with("tls://")
            || url.starts_with("ws://")
            || url.starts_with("wss://"))
    {
        // The user info of a scheme-less URL is a secret too (issue 26).
        let shown = match url.rfind('@') {
            Some(at) => format!("***{}", &url[at..]),
            None => url.to_owned(),
        };
        return Err(invalid(
            "environment.nats_url",
            format!("{shown:?} is not a NATS URL (nats://HOST:PORT)"),
        ));
    }
    let reference_latency_none = match env.and_then(|e| e.reference_service_latency.as_deref()) {
        None | Some("realistic") => false,
        Some("none") => true,
        Some(other) => {
            return Err(invalid(
                "environment.reference_service_latency",
                format!("{other:?}: one of realistic, none"),
            ));
        }
    };
    Ok(Settings {
        reference_latency_none,
        nats_url: env.and_then(|e| e.nats_url.clone()),
        nats_login: match env {
            Some(e) => nats_login(e)?,
            None => crate::NatsLogin::default(),
        },
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
        frameworks: frameworks(raw)?,
    })
}

/// `comparison_frameworks`: each with an HTTP `endpoint` or a Celery `broker_url`.
fn frameworks(raw: &RawFile) -> Result<Vec<crate::Framework>, ConfigError> {
    let Some(all) = &raw.comparison_frameworks else {
        return Ok(Vec::new());
    };
    all.iter()
        .map(|(name, f)| {
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
                name: name.clone(),
                enabled: f.enabled.unwrap_or(false),
                target,
                scenarios: f.scenarios.clone().unwrap_or_default(),
            })
        })
        .collect()
}

pub(super) fn stages(g: &RawGradual) -> Result<Stages, ConfigError> {
    let p = "advanced.gradual_load_increase";
    let steps = g.steps.clone().unwrap_or_default();
    if steps.is_empty() {
        return Err(invalid(
            format!("{p}.steps"),
            "is empty; list the users of each step, e.g. [10, 25, 50]",
        ));
    }
    let steps = steps
        .iter()
        .enumerate()
        .map(|(i, v)| positive_u32(&format!("{p}.steps[{i}]"), *v).map(NonZeroU32::get))
        .collect::<Result<Vec<_>, _>>()?;
    let step_duration = match &g.step_duration_seconds {
        Some(d) => duration(
            &format!("{p}.step_duration_seconds"),
            d,
            BareNumber::Seconds,
        )?,
        None => Duration::from_secs(60),
    };
    if step_duration.is_zero() {
        return Err(invalid(format!("{p}.step_duration_seconds"), "must be > 0"));
    }
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
    Ok(crate::NatsLogin {
        user: e.nats_user.clone(),
        password: secret(&e.nats_password, &e.nats_password_file, "nats_password")?,
        token: secret(&e.nats_token, &e.nats_token_file, "nats_token")?,
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
