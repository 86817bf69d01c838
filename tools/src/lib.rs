//! The workspace's development tools: fuzz drivers, data generators,
//! benchmark drivers and operator checks, one binary each under
//! `src/bin/` (see `docs/development.md`). Not published, not installed
//! with the telescope tools.
//!
//! The library holds what a tool shares with the integration tests:
//! [`tsk_consume`], the Kafka read-back the `tsk_consume` tool prints and
//! the Kafka tests compare.

pub mod tsk_consume;
