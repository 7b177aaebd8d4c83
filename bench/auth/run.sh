#!/usr/bin/env bash
# REGISTER with digest authentication (MD5: SIPp's algorithm), sipedge then Kamailio, same
# SIPp load in one run; prints the proxy CPU per authenticated REGISTER flow (REGISTER, 401,
# REGISTER with credentials, 200) and the ratio. By hand only, never in CI.
#
#   bench/auth/run.sh [RATE] [SECONDS] [USERS]      defaults 3000, 10, 10000
#
# FLOW=challenge measures the challenge leg alone (REGISTER without credentials, 401).
# REPEATS=N runs the pair N times, alternating, and compares the medians.
# WORKERS=N runs both proxies with N workers (default 2: sipedge's bench config, Kamailio -n 2).
# SYNC_MS=N sets sipedge's store.sync_interval_ms (default: the config's, 1000).
# SIPEDGE=PATH measures another build, e.g. target/pgo/release/sipedge from bench/pgo.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RATE=${1:-3000}
SECS=${2:-10}
USERS=${3:-10000}
CALLS=$((RATE * SECS))
case ${FLOW:-auth} in
    auth) SCENARIO=$HERE/uac_register_auth.xml ;;
    challenge) SCENARIO=$HERE/uac_register_challenge.xml ;;
    *) echo "FLOW is auth or challenge" >&2; exit 2 ;;
esac
OUT=$REPO/bench/results/$(date +%Y%m%d-%H%M%S)-auth-$RATE
mkdir -p "$OUT" /tmp/sipedge-auth
(cd "$REPO" && cargo build --release --bin sipedge --bin floor_responder) >/dev/null 2>&1
SIPEDGE=${SIPEDGE:-$REPO/target/release/sipedge}
TICK=$(getconf CLK_TCK)
WORKERS=${WORKERS:-2}
CONFIG=$OUT/sipedge-auth.toml
sed "s/^workers = .*/workers = $WORKERS/" "$HERE/sipedge-auth.toml" >"$CONFIG"
if [ -n "${SYNC_MS:-}" ]; then sed -i "s/^\[store\]$/[store]\nsync_interval_ms = $SYNC_MS/" "$CONFIG"; fi

# Subscribers user0000001.. with the user name as password, for both proxies.
INF=$OUT/users.inf
CSV=$OUT/users.csv
{ echo SEQUENTIAL; for i in $(seq 1 "$USERS"); do u=$(printf 'user%07d' "$i"); echo "$u;[authentication username=$u password=$u]"; done; } >"$INF"
{ echo user,password; for i in $(seq 1 "$USERS"); do u=$(printf 'user%07d' "$i"); echo "$u,$u"; done; } >"$CSV"

cpu() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | paste -sd+ | bc; }

measure() {
    local name=$1; shift
    local pids="$*"
    local before; before=$(cpu $pids)
    # -buff_size: SIPp's 64 KiB default overflows at 10,000 flows/s when answers arrive in
    # batches (docs/process-model.md); the same for both proxies.
    sipp -sf "$SCENARIO" -inf "$INF" 127.0.0.1:5060 -i 127.0.0.1 -p 5070 -buff_size 4194304 \
        -m "$CALLS" -r "$RATE" -nostdin -timeout 120s -trace_stat -stf "$OUT/$name.csv" \
        >"$OUT/$name.sipp" 2>&1 && rc=0 || rc=$?
    local after; after=$(cpu $pids)
    local us; us=$(echo "scale=1; ($after - $before) * 1000000 / $TICK / $CALLS" | bc)
    # SIPp exits 0 only when every flow succeeded.
    local w=$WORKERS; [ "$name" = floor ] && w=1
    # What SIPp achieved: past its own limit (about 24,000 flows/s on 2 shared cores) it falls
    # behind the asked rate and retransmits, and the CPU per flow measures its overload.
    local cps; cps=$(grep "Call Rate" "$OUT/$name.sipp" | tail -1 | awk -F'|' '{print $3}' | grep -o '[0-9.]*' | head -1 || true)
    local rtx; rtx=$(awk '$1 == "REGISTER" {n += $4} END {print n + 0}' "$OUT/$name.sipp" 2>/dev/null || echo "?")
    echo "RESULT proxy=$name workers=$w rate=$RATE achieved_cps=${cps:-?} retrans=$rtx flows=$CALLS sipp_rc=$rc proxy_us_flow=$us" | tee -a "$OUT/summary.txt"
}

run_sipedge() {
    rm -rf /tmp/sipedge-auth/store
    "$SIPEDGE" run -c "$CONFIG" 2>>"$OUT/sipedge.stderr" &
    local m=$!
    sleep 1
    "$SIPEDGE" ctl -c "$CONFIG" subscriber import "$CSV" >/dev/null
    measure sipedge "$m" $(cat /proc/$m/task/*/children)
    kill "$m"; wait "$m" 2>/dev/null || true
    sleep 1
}

run_kamailio() {
    kamailio -f "$HERE/kamailio-auth.cfg" -DD -E -m 1024 -M 16 -x fm -X fm -n "$WORKERS" >>"$OUT/kamailio.log" 2>&1 </dev/null &
    local k=$!
    sleep 2
    measure kamailio $(pgrep -x kamailio)
    kill "$k"; wait "$k" 2>/dev/null || true
    sleep 1
}

# The cost floor of kernel UDP here: one process with a worker's batched system calls that
# answers without checking anything (bench/src/bin/floor_responder.rs).
run_floor() {
    "$REPO/target/release/floor_responder" 127.0.0.1:5060 3000 challenge &
    local f=$!
    sleep 0.5
    measure floor "$f"
    kill "$f"; wait "$f" 2>/dev/null || true
    sleep 1
}

# Alternate the proxies (the VM's speed drifts within minutes), then compare medians.
# PROXIES="sipedge kamailio floor" adds the floor.
for _ in $(seq 1 "${REPEATS:-1}"); do
    for p in ${PROXIES:-sipedge kamailio}; do
        "run_$p"
    done
done

# Empty when the proxy was not run (the floor is optional): grep's miss must not end the script.
median() { { grep "proxy=$1 " "$OUT/summary.txt" || true; } | { grep -o 'proxy_us_flow=[0-9.]*' || true; } | cut -d= -f2 | sort -n | awk '{v[NR]=$1} END{if (NR) print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
S=$(median sipedge)
K=$(median kamailio)
F=$(median floor)
# The floor bounds the ratio: a proxy doing no work at all would be kamailio/floor times cheaper.
if [ -n "$F" ] && [ -n "$S" ] && [ -n "$K" ]; then
    echo "FLOOR ${FLOW:-auth}-register rate=$RATE floor_us_flow=$F sipedge-floor=$(echo "scale=1; $S - $F" | bc) kamailio-floor=$(echo "scale=1; $K - $F" | bc) kamailio/floor=$(echo "scale=2; $K / $F" | bc)" | tee -a "$OUT/summary.txt"
fi
if [ -n "$S" ] && [ -n "$K" ]; then
    echo "RATIO ${FLOW:-auth}-register workers=$WORKERS rate=$RATE runs=${REPEATS:-1} sipedge_us_flow=$S kamailio_us_flow=$K kamailio/sipedge=$(echo "scale=2; $K / $S" | bc)" | tee -a "$OUT/summary.txt"
fi
