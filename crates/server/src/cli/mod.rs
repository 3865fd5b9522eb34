//! The command line: `serve`, `migrate`, `config check`, `admin …` (a client of the admin API),
//! and `completions` and `man` (shell completions and the man page, generated from this tree).

mod admin;
mod output;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Portcullis: a self-hosted identity center"
)]
pub struct Cli {
    /// A TOML configuration file (its keys are overridden by PORTCULLIS__… variables).
    #[arg(long, global = true, env = "PORTCULLIS_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Apply directory migrations and exit.
    Migrate,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Administer a running Portcullis through its admin API.
    Admin(Box<admin::AdminArgs>),
    /// Print a shell completion script to standard output.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to standard output, or write one page per command.
    Man {
        /// Write portcullis.1 and a page for every subcommand (portcullis-serve.1,
        /// portcullis-admin-users-get.1, …) into this directory instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the configuration, then print it with secrets redacted.
    Check,
}

/// Parses the command line and runs it; the exit code says how it went (2: bad configuration).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

fn load_config(file: Option<&Path>) -> Result<Config, ExitCode> {
    Config::load(file).map_err(|e| {
        eprintln!("error: invalid configuration: {e}");
        ExitCode::from(2)
    })
}

async fn run(cli: Cli) -> ExitCode {
    let file = cli.config.as_deref();
    match cli.command {
        Command::Config(ConfigCommand::Check) => match load_config(file) {
            Ok(config) => {
                print!("{}", config.to_redacted_toml());
                eprintln!("configuration OK");
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Serve => {
            let config = match load_config(file) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let telemetry = match crate::telemetry::init(&config.log, Some(&config.telemetry)) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("error: cannot start telemetry: {e:#}");
                    return ExitCode::from(2);
                }
            };
            let result = serve(config, telemetry.instruments()).await;
            // Flush the last spans and metrics, whether the server stopped or failed.
            telemetry.shutdown().await;
            report(result)
        }
        Command::Migrate => {
            let config = match load_config(file) {
                Ok(c) => c,
                Err(code) => return code,
            };
            if let Err(e) = crate::telemetry::init(&config.log, None) {
                eprintln!("error: cannot start logging: {e:#}");
                return ExitCode::FAILURE;
            }
            report(migrate(config).await)
        }
        Command::Admin(args) => admin::run(file, *args).await,
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "portcullis",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        Command::Man { dir: None } => report(
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .map_err(|e| anyhow::anyhow!("cannot write the man page: {e}")),
        ),
        Command::Man { dir: Some(dir) } => {
            report(clap_mangen::generate_to(Cli::command(), &dir).map_err(|e| {
                anyhow::anyhow!("cannot write the man pages to {}: {e}", dir.display())
            }))
        }
    }
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config, instruments: crate::telemetry::Instruments) -> anyhow::Result<()> {
    let public = config.public_base().to_owned();
    let clock = std::sync::Arc::new(portcullis_sessions::SystemClock);
    let app = crate::Application::build_instrumented(config, clock, instruments).await?;
    tracing::info!(
        port = app.port(),
        metrics_port = app.metrics_port(),
        directory = app.state().directory.backend(),
        sign_in_url = %format!("{public}/start"),
        "Portcullis is serving"
    );
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    crate::app::create_data_dir(&config.data_dir)?;
    let directory = crate::app::open_directory(&config).await?;
    println!("migrations applied ({})", directory.backend());
    Ok(())
}
