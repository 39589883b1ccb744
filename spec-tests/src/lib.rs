//! Shared helpers for skiff black-box tests.
