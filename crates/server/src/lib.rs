//! The `portcullis` server: configuration, wiring of the stores and services, the admin API,
//! and the command line.

pub mod admin;
pub mod app;
pub mod bootstrap;
pub mod broker;
pub mod cli;
pub mod config;
pub mod delivery;
#[doc(hidden)]
pub mod fuzzing;
pub mod portal_keys;
pub mod state;
pub mod telemetry;

pub use app::Application;
pub use config::Config;
