//! The engine: all services and views, every rule of SPEC 2, as plain code.
//! Time comes in as an argument and changes go out as `Event`s; there are no
//! threads, clocks or sockets here (a sans-IO core), so every rule is a fast
//! unit test.

pub mod auto;
mod error;
pub mod pattern;

pub use error::EngineError;
