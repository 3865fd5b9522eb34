//! Compiles the gRPC contracts in proto/ with protox (pure Rust: no protoc needed) and generates
//! the tonic servers and clients.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto");
    let files = [
        "portcullis/broker/v1/broker.proto",
        "portcullis/sessions/v1/sessions.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={root}/{f}");
    }
    let descriptors = protox::compile(files, [root])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
