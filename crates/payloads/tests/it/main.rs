//! Payload properties: generated valid payloads validate, injected ones fail
//! where their kind says, serialisation round-trips, seeds reproduce (seed 42
//! to pinned bytes), the validator survives anything.

mod pinned;
mod properties;
mod rules;
