//! Configuration: TOML files (SPEC 10), merged from `-config` and
//! `-config-dir`, validated with errors that name file, line and key.
