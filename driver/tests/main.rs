//! The driver's integration tests, in one test binary (one link instead of one per file):
//! parsers under arbitrary input, and credentials that never reach errors or logs.

mod parsers;
mod secrets;
