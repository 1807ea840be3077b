//! Subjects and queue groups of a Cliffracer service (protocol doc §2).
//!
//! A service `svc` (optionally in namespace `ns`) subscribes to
//! `{ns.}svc.rpc.*` and `{ns.}svc.describe` in queue group `{ns.}svc.rpc`, and
//! to `{ns.}svc.async.*` in queue group `{ns.}svc.async`.

fn prefixed(namespace: Option<&str>, service: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}.{service}"),
        _ => service.to_owned(),
    }
}

/// `{ns.}{service}.rpc.{method}`: where a request/reply call goes.
pub fn rpc(namespace: Option<&str>, service: &str, method: &str) -> String {
    format!("{}.rpc.{method}", prefixed(namespace, service))
}

/// `{ns.}{service}.rpc.*`: what a service subscribes to for RPC.
pub fn rpc_wildcard(namespace: Option<&str>, service: &str) -> String {
    format!("{}.rpc.*", prefixed(namespace, service))
}

/// `{ns.}{service}.rpc`: the queue group of RPC and describe.
pub fn rpc_queue_group(namespace: Option<&str>, service: &str) -> String {
    format!("{}.rpc", prefixed(namespace, service))
}

/// `{ns.}{service}.describe`: the introspection subject.
pub fn describe(namespace: Option<&str>, service: &str) -> String {
    format!("{}.describe", prefixed(namespace, service))
}

/// `{ns.}{service}.async.*`: fire-and-forget calls (run, never answered).
pub fn async_wildcard(namespace: Option<&str>, service: &str) -> String {
    format!("{}.async.*", prefixed(namespace, service))
}

/// `{ns.}{service}.async.{method}`: a fire-and-forget call of `method`.
pub fn async_call(namespace: Option<&str>, service: &str, method: &str) -> String {
    format!("{}.async.{method}", prefixed(namespace, service))
}

/// `{ns.}{service}.async`: the queue group of async calls.
pub fn async_queue_group(namespace: Option<&str>, service: &str) -> String {
    format!("{}.async", prefixed(namespace, service))
}

/// The method of a request: the last subject token (as Cliffracer takes it).
pub fn method_of(subject: &str) -> &str {
    subject.rsplit('.').next().unwrap_or(subject)
}

/// True when `subject` has the shape `….{service}.rpc.{method}`: a `rpc`
/// token just before the last one. Used to warn about the original suite's
/// bug (subjects without `.rpc.`), which preflight then proves.
pub fn looks_like_rpc(subject: &str) -> bool {
    let mut tokens = subject.rsplit('.');
    tokens.next();
    tokens.next() == Some("rpc")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_subjects_with_and_without_namespace() {
        assert_eq!(
            rpc(None, "order_processing_service", "process_order"),
            "order_processing_service.rpc.process_order"
        );
        assert_eq!(rpc(Some("prod"), "svc", "m"), "prod.svc.rpc.m");
        assert_eq!(rpc_wildcard(None, "test"), "test.rpc.*");
        assert_eq!(rpc_queue_group(Some("ns"), "test"), "ns.test.rpc");
        assert_eq!(describe(None, "test"), "test.describe");
        assert_eq!(async_wildcard(None, "test"), "test.async.*");
        assert_eq!(async_queue_group(None, "test"), "test.async");
    }

    #[test]
    fn method_is_the_last_token() {
        assert_eq!(method_of("test.rpc.echo"), "echo");
        assert_eq!(method_of("echo"), "echo");
    }

    #[test]
    fn detects_the_seed_suites_missing_rpc_token() {
        assert!(looks_like_rpc("order_processing_service.rpc.process_order"));
        assert!(!looks_like_rpc("order_processing_service.process_order"));
        assert!(!looks_like_rpc("test.ping"));
    }
}
