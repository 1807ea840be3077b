//! The `test` service: `ping`, `echo`, `compute` (sum and mean of a list of
//! numbers), served on `test.rpc.{method}` in the Cliffracer shape. The
//! seed suite measured a non-Cliffracer stand-in on `test.*`; this one
//! speaks the real protocol so the sub-millisecond check means something.
//!
//! It also keeps a little state, for flows and data files (issue 29):
//! `create(item)` answers a new id, `get(id)` succeeds only for an id it
//! created (and refuses any other), `register(email)` refuses an address
//! it has seen. The state is in memory, bounded by [`MAX_KEPT`].

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_nats::Client;
use serde_json::{Map, Value, json};

use crate::cliffracer::{self, Handler, Method, Reply, ServeOptions, ServiceError};
use crate::kwargs::Kwargs;

/// Service name: subjects are `test.rpc.*`.
pub const NAME: &str = "test";

/// Options of the `test` service.
#[derive(Debug, Clone, Default)]
pub struct TestConfig {
    /// Namespace prefix (`{ns}.test.rpc.*`), if any.
    pub namespace: Option<String>,
}

/// The most items and addresses the service keeps; past it, `create` and
/// `register` refuse (a long run against it measures a full store, not a
/// growing one).
pub const MAX_KEPT: usize = 1_000_000;

/// The handler of the `test` service.
#[derive(Debug, Default)]
pub struct TestService {
    items: Mutex<HashMap<String, String>>,
    emails: Mutex<HashSet<String>>,
    next: AtomicU64,
}

const METHODS: &[Method] = &[
    Method {
        name: "ping",
        doc: "Answer \"pong\".",
        params: &[],
    },
    Method {
        name: "echo",
        doc: "Return the message unchanged.",
        params: &[("message", "str")],
    },
    Method {
        name: "compute",
        doc: "Sum and mean of a list of numbers.",
        params: &[("numbers", "list[float]")],
    },
    Method {
        name: "create",
        doc: "Keep an item; answer its new id.",
        params: &[("item", "str")],
    },
    Method {
        name: "get",
        doc: "The item with this id; refused unless create made it.",
        params: &[("id", "str")],
    },
    Method {
        name: "register",
        doc: "Register an email address; refused if it was registered before.",
        params: &[("email", "str")],
    },
];

impl Handler for TestService {
    fn name(&self) -> &str {
        NAME
    }

    fn methods(&self) -> &[Method] {
        METHODS
    }

    async fn call(&self, method: &str, args: Map<String, Value>) -> Reply {
        let mut a = Kwargs::new(&args);
        match method {
            "ping" => match a.finish() {
                Ok(()) => Reply::Ok(json!("pong")),
                Err(e) => Reply::Invalid(e),
            },
            "echo" => echo(a),
            "compute" => {
                let numbers = a.numbers("numbers");
                match (a.finish(), numbers) {
                    (Ok(()), Some(n)) => {
                        let sum: f64 = n.iter().sum();
                        Reply::Ok(
                            json!({"sum": sum, "mean": sum / n.len() as f64, "count": n.len()}),
                        )
                    }
                    (Err(e), _) => Reply::Invalid(e),
                    (Ok(()), None) => Reply::Internal,
                }
            }
            "create" | "get" | "register" => self.stateful(method, a),
            _ => Reply::Unknown,
        }
    }
}

impl TestService {
    /// `create`, `get`, `register`: the methods with state.
    fn stateful(&self, method: &str, mut a: Kwargs<'_>) -> Reply {
        let key = match method {
            "create" => "item",
            "get" => "id",
            _ => "email",
        };
        let value = a.string(key);
        let value = match (a.finish(), value) {
            (Ok(()), Some(v)) => v.to_owned(),
            (Err(e), _) => return Reply::Invalid(e),
            (Ok(()), None) => return Reply::Internal,
        };
        match method {
            "create" => {
                let Ok(mut items) = self.items.lock() else {
                    return Reply::Internal;
                };
                if items.len() >= MAX_KEPT {
                    return Reply::Refused(format!("store full ({MAX_KEPT} items)"));
                }
                let id = format!("it-{}", self.next.fetch_add(1, Ordering::Relaxed));
                items.insert(id.clone(), value.clone());
                Reply::Ok(json!({"id": id, "item": value}))
            }
            "get" => match self.items.lock().map(|i| i.get(&value).cloned()) {
                Ok(Some(item)) => Reply::Ok(json!({"id": value, "item": item})),
                Ok(None) => Reply::Refused(format!("no item with id {value:?}")),
                Err(_) => Reply::Internal,
            },
            _ => {
                let Ok(mut emails) = self.emails.lock() else {
                    return Reply::Internal;
                };
                if emails.len() >= MAX_KEPT {
                    Reply::Refused(format!("store full ({MAX_KEPT} addresses)"))
                } else if emails.insert(value.clone()) {
                    Reply::Ok(json!({"email": value, "registered": true}))
                } else {
                    Reply::Refused(format!("{value} is already registered"))
                }
            }
        }
    }
}

/// `echo(message: str)`: the message back. Shared with
/// `order_processing_service`, which (like the real service the protocol
/// doc captured) has it too.
pub fn echo(mut a: Kwargs<'_>) -> Reply {
    let message = a.string("message");
    match (a.finish(), message) {
        (Ok(()), Some(m)) => Reply::Ok(Value::String(m.to_owned())),
        (Err(e), _) => Reply::Invalid(e),
        // Kwargs reports an error for every value it could not read.
        (Ok(()), None) => Reply::Internal,
    }
}

/// Runs the `test` service on `client` until `shutdown` completes.
pub async fn run(
    client: Client,
    config: TestConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServiceError> {
    let options = ServeOptions {
        namespace: config.namespace,
        ..ServeOptions::default()
    };
    cliffracer::serve(client, Arc::new(TestService::default()), options, shutdown).await
}
