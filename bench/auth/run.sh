#!/usr/bin/env bash
# REGISTER with digest authentication (MD5: SIPp's algorithm), sipedge then Kamailio, same
# SIPp load in one run; prints the proxy CPU per authenticated REGISTER flow (REGISTER, 401,
# REGISTER with credentials, 200) and the ratio. By hand only, never in CI.
#
#   bench/auth/run.sh [RATE] [SECONDS] [USERS]      defaults 3000, 10, 10000
#
# FLOW=challenge measures the challenge leg alone (REGISTER without credentials, 401).
# REPEATS=N runs the pair N times, alternating, and compares the medians.
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
(cd "$REPO" && cargo build --release --bin sipedge) >/dev/null 2>&1
SIPEDGE=$REPO/target/release/sipedge
TICK=$(getconf CLK_TCK)

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
    echo "RESULT proxy=$name rate=$RATE flows=$CALLS sipp_rc=$rc proxy_us_flow=$us" | tee -a "$OUT/summary.txt"
}

run_sipedge() {
    rm -rf /tmp/sipedge-auth/store
    "$SIPEDGE" run -c "$HERE/sipedge-auth.toml" 2>>"$OUT/sipedge.stderr" &
    local m=$!
    sleep 1
    "$SIPEDGE" ctl -c "$HERE/sipedge-auth.toml" subscriber import "$CSV" >/dev/null
    measure sipedge "$m" $(cat /proc/$m/task/*/children)
    kill "$m"; wait "$m" 2>/dev/null || true
    sleep 1
}

run_kamailio() {
    kamailio -f "$HERE/kamailio-auth.cfg" -DD -E -m 1024 -M 16 -x fm -X fm -n 2 >>"$OUT/kamailio.log" 2>&1 </dev/null &
    local k=$!
    sleep 2
    measure kamailio $(pgrep -x kamailio)
    kill "$k"; wait "$k" 2>/dev/null || true
    sleep 1
}

# Alternate the two (the VM's speed drifts within minutes), then compare medians.
for _ in $(seq 1 "${REPEATS:-1}"); do
    run_sipedge
    run_kamailio
done

median() { grep "proxy=$1 " "$OUT/summary.txt" | grep -o 'proxy_us_flow=[0-9.]*' | cut -d= -f2 | sort -n | awk '{v[NR]=$1} END{print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
S=$(median sipedge)
K=$(median kamailio)
echo "RATIO ${FLOW:-auth}-register rate=$RATE runs=${REPEATS:-1} sipedge_us_flow=$S kamailio_us_flow=$K kamailio/sipedge=$(echo "scale=2; $K / $S" | bc)" | tee -a "$OUT/summary.txt"
