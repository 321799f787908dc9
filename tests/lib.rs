//! Tests of clay-config across crates: `tests/ui/**` (trybuild, one folder per rule),
//! `tests/*.rs` (end-to-end loading, rebuild tracking). Nothing here is public API.
