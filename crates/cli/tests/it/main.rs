//! The `cliffload` binary end to end, against a real nats-server started per
//! test (testkit) and services run in the test process.

mod harness;

mod attacks;
mod comparison;
mod dashboard;
mod distributed;
mod events;
mod examples;
mod failures;
mod faults;
mod frameworks;
mod history;
mod interrupt;
mod monitor;
mod otlp;
mod ping;
mod preflight;
mod prometheus;
mod regression;
mod sample;
mod scenarios;
mod security;
mod suite;
mod terminal;
mod thresholds;
mod version;
mod workload;
