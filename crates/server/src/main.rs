//! The `portcullis` binary.

fn main() -> std::process::ExitCode {
    portcullis_server::cli::main()
}
