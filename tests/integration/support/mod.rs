//! Helpers shared by several integration-test files (beyond `util.rs`'s
//! process and JSON helpers): [`netprofile`], how the netprofile tests run
//! the binary.

pub mod netprofile;
