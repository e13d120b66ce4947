#!/usr/bin/env bash
# Installs what a fresh machine lacks to build this workspace: libclang, which the RocksDB
# bindings (bindgen) need. Idempotent; does nothing when libclang is already there.
set -euo pipefail

# libclang itself (libclang.so, libclang-14.so.1, ...), not libclang-cpp, which some base
# images carry without it and which bindgen cannot use.
have_libclang() {
    ldconfig -p 2>/dev/null | grep -q 'libclang\(-[0-9.]\+\)\?\.so' && return 0
    compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null && return 0
    compgen -G '/usr/lib/llvm-*/lib/libclang-[0-9]*.so*' >/dev/null && return 0
    compgen -G '/usr/lib/x86_64-linux-gnu/libclang-[0-9]*.so*' >/dev/null && return 0
    return 1
}

if ! have_libclang; then
    echo "setup: installing libclang-dev (needed by RocksDB's bindings)" >&2
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libclang-dev >/dev/null
fi
if ! command -v cargo >/dev/null; then
    echo "setup: cargo is missing; install a Rust toolchain (1.85 or newer) first" >&2
    exit 1
fi
