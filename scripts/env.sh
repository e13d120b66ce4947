# Sourced by the scripts: one persistent target directory, so the 12-minute RocksDB build
# is done once per machine and reused by every later run, CI included.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${HOME}/.cache/tos-blockstm/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
