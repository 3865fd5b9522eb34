//! The `portcullis` server (floor 5): configuration, telemetry, the wiring of the concrete
//! backends and the surfaces, and the command line. The only crate that names a backend.

pub mod app;
pub mod bootstrap;
pub mod broker;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod state;
pub mod telemetry;

pub use app::Application;
pub use config::Config;
