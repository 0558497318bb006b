#!/usr/bin/env bash
# Builds the release binary statically linked (glibc, x86_64 Linux):
#   packaging/build-static.sh  ->  target/static/x86_64-unknown-linux-gnu/release/lovebeat
# `--target` keeps `crt-static` off build scripts and proc macros; the
# separate target dir keeps it apart from ordinary builds. Extra arguments go
# to cargo. Set CARGO_TARGET_DIR to build elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/static}"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --release --locked --target x86_64-unknown-linux-gnu --bin lovebeat "$@"
echo "$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/lovebeat"
