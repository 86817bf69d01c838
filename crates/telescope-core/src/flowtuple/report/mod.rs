//! The report plugin's ways (`--compat report`): its rules for what counts
//! and makes keys ([`rules`]), and its dense keys, added to complete
//! intervals after aggregation ([`dense`]).

pub(crate) mod dense;
pub(crate) mod rules;
