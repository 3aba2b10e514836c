//! cinderbox-conformance: a property-based state-machine suite for Glance cinder stores.
//! Random sequences of store operations run against a target (the embedded emulator or a
//! real cloud), each answer is compared with an independent reference model, invariants are
//! checked through Cinder's API after every step, and failures shrink to a smallest sequence.

pub mod adapter;
pub mod adapter_target;
pub mod checks;
pub mod cloud;
pub mod concurrent;
pub mod differential;
pub mod faults;
pub mod glance_conf;
pub mod inspector;
pub mod invariant;
pub mod machine;
pub mod model;
pub mod planted;
pub mod profile;
pub mod runner;
pub mod session;
pub mod sut;
pub mod target;
