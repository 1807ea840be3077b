//! The reference services against a real nats-server.

mod test_service;
