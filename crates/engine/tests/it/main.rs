//! Engine behaviour under tokio virtual time with the scripted mock transport:
//! minutes of load simulated in milliseconds.

mod closed_model;
mod intervals;
mod open_model;
