//! Embedded SQLite backend (deadpool-sqlite).
