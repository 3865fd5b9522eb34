//! The `portcullis` binary.

/// mimalloc rather than glibc's allocator: request handling allocates and frees many small
/// objects from two worker threads, where glibc spent over a quarter of the server's CPU time
/// (profiled under the ListAccounts benchmark, docs/benchmarks.md), and it returns freed memory
/// to the system more readily.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    portcullis_server::cli::main()
}
