//! Tests of the snapshot format.
