//! The reference services against a real nats-server.

mod error_paths;
mod events;
mod order_service;
mod test_service;
