# Sourced by fuzz/run (and by hand: `source fuzz/env.sh`): how the fuzz workspace is built on
# stable Rust. SanitizerCoverage is LLVM's own pass, asked for with -Cpasses; libfuzzer-sys links
# libFuzzer, which supplies the callbacks. No nightly, no cargo-fuzz.
FUZZ_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FUZZ_TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$FUZZ_DIR/target}"
export RUSTC_WRAPPER="$FUZZ_DIR/rustc-wrap"
export RUSTFLAGS="--cfg fuzzing"
export FUZZ_SANCOV_FLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares"
# `ci` (default): dependencies unoptimised, for a short cold build; `release`: dependencies at
# opt-level 1, faster targets for long runs by hand (fuzz/Cargo.toml).
FUZZ_PROFILE="${FUZZ_PROFILE:-ci}"
FUZZ_BIN_DIR="$CARGO_TARGET_DIR/$FUZZ_TRIPLE/$FUZZ_PROFILE"
fuzz_build() { # extra cargo arguments...
  (cd "$FUZZ_DIR" && cargo build --profile "$FUZZ_PROFILE" --locked --target "$FUZZ_TRIPLE" --bins "$@")
}
