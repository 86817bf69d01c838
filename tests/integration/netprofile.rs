//! netprofile end-to-end tests.
