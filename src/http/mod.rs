//! The HTTP API (SPEC 4) on tiny_http: routing, beats, queries, status.
