//! Payload properties: generated valid payloads validate, injected ones fail
//! where their kind says, serialisation round-trips, seeds reproduce, the
//! validator survives anything.

mod properties;
mod rules;
