//! NEMEA hourly aggregates to per-tag traffic profiles.
