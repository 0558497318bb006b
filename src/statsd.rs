//! statsd ingest (SPEC 3): the line parser and the UDP and TCP listeners,
//! which hand the state thread batches of updates.
