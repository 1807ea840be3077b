//! The `test` service: `ping`, `echo`, `compute` (sum and mean of a list of
//! numbers), served on `test.rpc.{method}` in the Cliffracer shape. The
//! seed suite measured a non-Cliffracer stand-in on `test.*`; this one
//! speaks the real protocol so the sub-millisecond check means something.

use std::future::Future;
use std::sync::Arc;

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

/// The handler of the `test` service.
#[derive(Debug, Default)]
pub struct TestService;

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
            _ => Reply::Unknown,
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
    cliffracer::serve(client, Arc::new(TestService), options, shutdown).await
}
