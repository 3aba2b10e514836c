//! The emulator's integration tests, in one binary (one link step instead of twelve).
//! Each module is one former test file; `common` and `fault_support` are shared
//! helpers. Run one group with a filter, e.g. `cargo test -p cinderbox-emulator --test
//! main hostile::` (long runs: `CINDERBOX_LONG=1 cargo test --release -p
//! cinderbox-emulator --test main crash::`). None needs its own process: the crash
//! test runs the emulator binary as a child and kills that, not this process.

mod common;
mod fault_support;

mod access_log;
mod actions;
mod attachments;
mod auth_matrix;
mod backends;
mod backup_records;
mod backups;
mod bad_bodies;
mod crash;
mod dashboard;
mod faults;
mod hostile;
mod keystone;
mod keystone_admin;
mod keystone_crash;
mod load;
mod qos_transfers;
mod quota_classes;
mod quotas;
mod retype;
mod scenarios;
mod small_apis;
mod snapshot_data;
mod snapshots;
mod structure;
mod volumes;
