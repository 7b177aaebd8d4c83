#!/usr/bin/env bash
# sipedge and Kamailio 5.6 side by side: the same SIPp load from the shared harness
# (../shared/bench, used in place, not copied), one proxy after the other in one run of this
# script. Prints each RESULT line and the ratio of proxy CPU per call (Kamailio / sipedge:
# above 1, sipedge spends less CPU per call).
#
#   bench/sipp/compare.sh SCENARIO RATE        SCENARIO: call | call_rr | 404 | register
#
# Env: REPEATS [3], DURATION [10], WAIT_QUIET [30], PROXIES ["sipedge kamailio"; add floor for
# the kernel-UDP cost floor of register and 404],
# SHARED_BENCH [<repo>/../shared/bench]; other bench.sh knobs pass through.
# Needs sip-tester, kamailio, sysstat, bc. By hand only: never in CI.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SHARED_BENCH=${SHARED_BENCH:-$REPO/../shared/bench}
SCENARIO=${1:?usage: compare.sh SCENARIO RATE}
RATE=${2:?usage: compare.sh SCENARIO RATE}
export REPEATS=${REPEATS:-3} DURATION=${DURATION:-10} WAIT_QUIET=${WAIT_QUIET:-30}
OUT=$REPO/bench/results/$(date +%Y%m%d-%H%M%S)-$SCENARIO-$RATE
SCRATCH=/tmp/sipedge-bench
mkdir -p "$OUT" "$SCRATCH"

(cd "$REPO" && cargo build --release --bin sipedge --bin floor_responder)
SIPEDGE=${SIPEDGE:-$REPO/target/release/sipedge}

start_sipedge() {
    rm -rf "$SCRATCH/store"
    "$SIPEDGE" run -c "${SIPEDGE_CONFIG:-$HERE/sipedge-bench.toml}" 2>>"$OUT/sipedge.stderr" &
    echo $! > "$SCRATCH/pid"
    local m; m=$(cat "$SCRATCH/pid")
    for _ in $(seq 50); do
        [ "$(cat /proc/"$m"/task/*/children 2>/dev/null | wc -w)" -ge 2 ] && break
        sleep 0.1
    done
    sleep 0.5
}

stop_sipedge() {
    kill "$(cat "$SCRATCH/pid")" 2>/dev/null || true
    wait 2>/dev/null || true
}

# Master and workers: the processes whose CPU the harness counts.
pids_sipedge() {
    local m; m=$(cat "$SCRATCH/pid")
    echo "$m $(cat /proc/"$m"/task/*/children)"
}

run_one() {
    local proxy=$1 pids="" reset=""
    case $proxy in
        sipedge)
            start_sipedge
            pids=$(pids_sipedge) ;;
        kamailio)
            "$SHARED_BENCH/kamailio/run_kamailio.sh" restart >/dev/null
            sleep 1
            reset="./kamailio/run_kamailio.sh restart" ;;
        floor)
            # Kernel UDP's cost floor: answers with 200 and does nothing else
            # (bench/src/bin/floor_responder.rs); meaningful for register only.
            "$REPO/target/release/floor_responder" 127.0.0.1:5060 3000 &
            echo $! > "$SCRATCH/floor.pid"
            sleep 0.5
            pids=$(cat "$SCRATCH/floor.pid") ;;
        *) echo "unknown proxy $proxy" >&2; return 1 ;;
    esac
    echo "== $proxy: $SCENARIO at $RATE/s, $REPEATS x ${DURATION}s" >&2
    (cd "$SHARED_BENCH" && RATE=$RATE PROXY_PIDS="$pids" RESET_CMD="$reset" \
        RESULTS_DIR="$OUT/$proxy" ./bench.sh "$SCENARIO") >"$OUT/$proxy.txt" 2>&1 || true
    grep -E '^POINT' "$OUT/$proxy.txt" >&2 || true
    case $proxy in
        sipedge) stop_sipedge ;;
        kamailio) "$SHARED_BENCH/kamailio/run_kamailio.sh" stop >/dev/null ;;
        floor) kill "$(cat "$SCRATCH/floor.pid")" 2>/dev/null || true; wait 2>/dev/null || true ;;
    esac
    grep '^RESULT' "$OUT/$proxy.txt" | tail -1 | sed "s/^RESULT/RESULT proxy=$proxy/"
}

for p in ${PROXIES:-sipedge kamailio}; do
    run_one "$p" | tee -a "$OUT/summary.txt"
done
us() { grep "proxy=$1" "$OUT/summary.txt" | grep -o 'proxy_us_call=[0-9.]*' | cut -d= -f2; }
S=$(us sipedge || true)
K=$(us kamailio || true)
if [ -n "$S" ] && [ -n "$K" ]; then
    echo "RATIO scenario=$SCENARIO rate=$RATE sipedge_us_call=$S kamailio_us_call=$K kamailio/sipedge=$(echo "scale=2; $K / $S" | bc)" |
        tee -a "$OUT/summary.txt"
fi
echo "raw output: $OUT"
