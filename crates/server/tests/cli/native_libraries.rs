//! `cargo run` needs nothing but Rust and a C compiler: the binary links only the C library's
//! own shared objects (no libxml2, xmlsec or OpenSSL), and nothing it is built from binds a
//! system C library or needs libclang.

use std::process::Command;

/// The shared objects a Rust binary on glibc may link: the C library and its parts.
const LIBC_LEVEL: &[&str] = &[
    "linux-vdso.so",
    "libc.so",
    "libm.so",
    "libgcc_s.so",
    "libpthread.so",
    "libdl.so",
    "librt.so",
    "ld-linux",
];

/// Crates that bind a system library or generate bindings with libclang.
const NEEDS_SYSTEM_LIBRARIES: &[&str] = &[
    "openssl-sys",
    "libxml",
    "samael",
    "bindgen",
    "clang-sys",
    "image",
];

#[test]
#[cfg(target_os = "linux")]
fn the_binary_links_only_the_c_library() {
    let out = Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_portcullis"))
        .output()
        .expect("run ldd (Debian's libc-bin)");
    assert!(out.status.success(), "{out:?}");
    let listed = String::from_utf8_lossy(&out.stdout);
    let libraries: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        libraries.iter().any(|l| l.starts_with("libc.so")),
        "{listed}"
    );
    for library in &libraries {
        let name = library.rsplit('/').next().unwrap_or(library);
        assert!(
            LIBC_LEVEL.iter().any(|ok| name.starts_with(ok)),
            "the binary links {library}:\n{listed}"
        );
    }
}

#[test]
fn nothing_the_binary_is_built_from_binds_a_system_library() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "portcullis",
            "--edges",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--offline",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "{out:?}");
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(crates.contains(&"portcullis-saml"), "{tree}");
    for name in NEEDS_SYSTEM_LIBRARIES {
        assert!(
            !crates.contains(name),
            "the binary is built from {name}:\n{tree}"
        );
    }
}
