//! Integration tests for mnemodb-dataset: file round trips, hostile inputs, generators,
//! ground truth and recall.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod evaluation;
mod hostile;
mod roundtrip;
mod support;
mod synthetic;
