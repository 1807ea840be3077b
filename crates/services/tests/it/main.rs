//! The reference services against a real nats-server.

mod order_service;
mod test_service;
