//! Shared by the fuzz targets in `fuzz_targets/`.

/// With `FUZZ_SEED_OUT=DIR`, writes `bytes` to a file in DIR named by a hash of it (the
/// seed maker: `fuzz/run seeds`).
pub fn keep_seed(bytes: &[u8]) {
    use std::hash::{Hash, Hasher};
    let Some(dir) = std::env::var_os("FUZZ_SEED_OUT") else {
        return;
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    let path = std::path::Path::new(&dir).join(format!("{:016x}", h.finish()));
    if let Err(e) = std::fs::write(&path, bytes) {
        eprintln!("could not write {}: {e}", path.display());
    }
}
