//! The database file (SPEC 8): Lovebeat 1.x's gzip `SERV`/`ALARM` lines,
//! atomic saves (temp file, fsync, rename, fsync dir), corrupt files kept
//! aside, and the saver thread that writes snapshots off the state thread.
