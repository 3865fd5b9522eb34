//! End-to-end test crate: see tests/e2e.rs.
