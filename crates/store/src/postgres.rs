//! PostgreSQL backend (deadpool-postgres).
