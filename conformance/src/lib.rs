//! Placeholder: the conformance suite lands with its own issue.

pub mod adapter;
