//! flowtuple-series end-to-end tests.
