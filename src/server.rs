//! Start-up and wiring: loads the config and database, starts every thread,
//! waits for a signal, shuts down with a final save.
