//! Placeholder until the executor tests.
