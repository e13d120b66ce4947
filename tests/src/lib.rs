//! Integration tests live in `tests/`; this library holds helpers they share.
