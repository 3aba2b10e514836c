//! The driver's integration tests, in one test binary (one link instead of one per file):
//! parsers under arbitrary input, credentials that never reach errors or logs, and the
//! `nfs` connector against an in-process NFSv3 server.

mod nfs_connector;
mod parsers;
mod secrets;
