#!/usr/bin/env bash
# Profile-guided release build of sipedge: an instrumented build carries a short mix of edge
# traffic (digest REGISTER, plain REGISTER, stateless 404, proxied calls; SIPp on loopback),
# then the release build (thin LTO, as `cargo build --release`) is compiled with that profile.
# LLVM lays the hot paths out together and the cold ones (errors, rare headers) aside, so a
# worker waking up to a batch pulls fewer cold cache lines (bench/README.md#profile-guided-build).
# By hand or for packaging, not in CI.
#
#   bench/pgo.sh              builds target/pgo/release/sipedge
#
# Then e.g. SIPEDGE=target/pgo/release/sipedge bench/auth/run.sh 12000 10.
# Needs sip-tester and rustup's llvm-tools (added here if missing).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PGO=$REPO/target/pgo
SYSROOT=$(rustc --print sysroot)
HOST=$(rustc -vV | sed -n 's/^host: //p')
PROFDATA=$SYSROOT/lib/rustlib/$HOST/bin/llvm-profdata
[ -x "$PROFDATA" ] || rustup component add llvm-tools
[ -x "$PROFDATA" ] || { echo "pgo.sh: $PROFDATA missing after 'rustup component add llvm-tools'" >&2; exit 1; }
command -v sipp >/dev/null || { echo "pgo.sh: needs SIPp (apt-get install sip-tester)" >&2; exit 1; }

rm -rf "$PGO/raw"
# Two directories: the instrumented build scripts run during the build and write their own
# profiles to the build-time default (raw/build); only sipedge's (raw/run) are merged.
mkdir -p "$PGO/raw/build" "$PGO/raw/run"
echo "== instrumented build" >&2
(cd "$REPO" && CARGO_TARGET_DIR=$PGO/gen RUSTFLAGS="-Cprofile-generate=$PGO/raw/build" \
    cargo build --release --bin sipedge)

# %m merges the profiles of every process of one binary into one file under a lock: the
# workers are forked from the master and would otherwise overwrite its file.
export LLVM_PROFILE_FILE=$PGO/raw/run/sipedge-%m.profraw
export SIPEDGE=$PGO/gen/release/sipedge
echo "== training: digest REGISTER, REGISTER, 404, calls" >&2
PROXIES=sipedge "$REPO/bench/auth/run.sh" 4000 5 >&2
for s in "register 4000" "404 4000" "call 1000"; do
    # shellcheck disable=SC2086 # two words: scenario and rate
    PROXIES=sipedge REPEATS=1 DURATION=5 WAIT_QUIET=0 "$REPO/bench/sipp/compare.sh" $s >&2
done
unset LLVM_PROFILE_FILE SIPEDGE
ls "$PGO"/raw/run/*.profraw >/dev/null 2>&1 || { echo "pgo.sh: training left no profile" >&2; exit 1; }
"$PROFDATA" merge -o "$PGO/sipedge.profdata" "$PGO"/raw/run/*.profraw

echo "== optimised build" >&2
(cd "$REPO" && CARGO_TARGET_DIR=$PGO \
    RUSTFLAGS="-Cprofile-use=$PGO/sipedge.profdata" cargo build --release --bin sipedge)
echo "$PGO/release/sipedge"
