//! Swift objects and prefixes from a real OpenStack Swift.
