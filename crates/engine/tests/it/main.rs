//! Engine behaviour under tokio virtual time with the scripted mock transport:
//! minutes of load simulated in milliseconds.

mod closed_model;
mod open_model;
