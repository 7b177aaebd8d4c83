#!/usr/bin/env bash
# Registrar at scale: load USERS (1,000,000) bindings into sipedge with SIPp, then measure
# REGISTER (refresh) and INVITE-lookup CPU per request with that table loaded, memory (RSS of
# all sipedge processes, LMDB bytes) per binding; then the same REGISTER flow against
# Kamailio's in-memory usrloc (../shared/bench). By hand only, never in CI.
#
#   bench/registrar/scale.sh [RATE]        RATE of the measured runs [10000]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SHARED=${SHARED_BENCH:-$REPO/../shared/bench}
RATE=${1:-10000}
USERS=${USERS:-1000000}
LOAD_RATE=${LOAD_RATE:-20000}
OUT=$REPO/bench/results/$(date +%Y%m%d-%H%M%S)-registrar-scale
mkdir -p "$OUT" /tmp/sipedge-scale
(cd "$REPO" && cargo build --release --bin sipedge)
SIPEDGE=${SIPEDGE:-$REPO/target/release/sipedge}
CONF=${SIPEDGE_CONFIG:-$HERE/sipedge-scale.toml}
export USERS WAIT_QUIET=${WAIT_QUIET:-20}

rm -rf /tmp/sipedge-scale/store /dev/shm/sipedge-scale-store
"$SIPEDGE" run -c "$CONF" 2>>"$OUT/sipedge.stderr" &
MASTER=$!
sleep 1
PIDS="$MASTER $(cat /proc/$MASTER/task/*/children)"
bench() { (cd "$SHARED" && PROXY_PIDS="$PIDS" RESULTS_DIR="$OUT/$1" "${@:2}") | grep -E '^(POINT|RESULT)'; }
ticks() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | paste -sd+ | bc; }
# refresh NAME PIDS...: three SIPp runs of RATE*10 REGISTER refreshes, straight at the proxy
# from bench.sh's UAC port (so each Contact is the one loaded, as for a phone refreshing),
# with the CPU of PIDS read around each run (clock ticks, so one decimal, where bench.sh
# rounds to whole microseconds); prints each run and appends it to refresh.txt for the ratio.
refresh() {
    local name=$1; shift
    local calls=$((RATE * 10)) before after rc
    for i in 1 2 3; do
        before=$(ticks "$@")
        sipp -sf "$SHARED/scenarios/register.xml" -inf "$SHARED/data/users_${USERS}.csv" 127.0.0.1:5060 \
            -i 127.0.0.1 -p 5070 -buff_size 4194304 -m "$calls" -r "$RATE" -nostdin -timeout 60s \
            >"$OUT/refresh_${name}_$i.sipp" 2>&1 && rc=0 || rc=$?
        after=$(ticks "$@")
        echo "refresh proxy=$name run=$i calls=$calls sipp_rc=$rc proxy_us_reg=$(echo "scale=1; ($after - $before) * 1000000 / $(getconf CLK_TCK) / $calls" | bc)" | tee -a "$OUT/refresh.txt"
    done
}
median() { grep "proxy=$1 " "$OUT/refresh.txt" | grep -o 'proxy_us_reg=[0-9.]*' | cut -d= -f2 | sort -n | sed -n 2p; }

echo "== load: $USERS REGISTERs at $LOAD_RATE/s"
bench load env RATE=$LOAD_RATE DURATION=$((USERS / LOAD_RATE)) REPEATS=1 MAX_RETRANS_PCT=100 ./bench.sh register | tee "$OUT/load.txt" || true
COUNT=$("$SIPEDGE" ctl -c "$CONF" reg count)
echo "bindings: $COUNT"
rss_kb=0
for p in $PIDS; do rss_kb=$((rss_kb + $(awk '/VmRSS/ {print $2}' /proc/$p/status))); done
STORE=$("$SIPEDGE" ctl -c "$CONF" --json status | python3 -c 'import json,sys; s=json.load(sys.stdin)["store"]; print(s["used_pages"]*s["page_size"] if "used_pages" in s else s)')
N=$(echo "$COUNT" | awk '{print $1}')
echo "memory: rss_total_kb=$rss_kb lmdb_used_bytes=$STORE bindings=$N lmdb_bytes_per_binding=$((STORE / (N > 0 ? N : 1))) rss_bytes_per_binding=$((rss_kb * 1024 / (N > 0 ? N : 1)))" | tee "$OUT/memory.txt"

echo "== REGISTER refreshes with the table loaded: $RATE/s"
bench register env RATE=$RATE REPEATS=3 DURATION=10 ./bench.sh register | tee "$OUT/register.txt" | grep RESULT || true
refresh sipedge $PIDS

echo "== INVITE lookups (302) with the table loaded: $RATE/s"
LOOKUP_CALLS=$((RATE * 10))
for i in 1 2 3; do
    before=$(for p in $PIDS; do awk '{print $14+$15}' /proc/$p/stat; done | paste -sd+ | bc)
    sipp -sf "$HERE/uac_lookup.xml" -inf "$SHARED/data/users_${USERS}.csv" 127.0.0.1:5060 -i 127.0.0.1 -p 5071 \
        -m $LOOKUP_CALLS -r $RATE -nostdin -timeout 60s -trace_stat -stf "$OUT/lookup_$i.csv" >/dev/null 2>&1 || echo "sipp rc=$?"
    after=$(for p in $PIDS; do awk '{print $14+$15}' /proc/$p/stat; done | paste -sd+ | bc)
    ticks=$(getconf CLK_TCK)
    echo "lookup run $i: calls=$LOOKUP_CALLS proxy_us_call=$(( (after - before) * 1000000 / ticks / LOOKUP_CALLS ))" | tee -a "$OUT/lookup.txt"
done
kill "$MASTER"; wait "$MASTER" 2>/dev/null || true

echo "== Kamailio usrloc: load, then REGISTER refreshes at $RATE/s"
"$SHARED/kamailio/run_kamailio.sh" restart >/dev/null; sleep 1
(cd "$SHARED" && RESULTS_DIR="$OUT/kamailio-load" RATE=$LOAD_RATE DURATION=$((USERS / LOAD_RATE)) REPEATS=1 MAX_RETRANS_PCT=100 ./bench.sh register) | grep -E '^RESULT' || true
kam_rss=0
for p in $(pgrep -x kamailio); do kam_rss=$((kam_rss + $(awk '/VmRSS/ {print $2}' /proc/$p/status))); done
echo "kamailio memory: rss_total_kb=$kam_rss (shared memory counted once per process that touched it)" | tee -a "$OUT/memory.txt"
(cd "$SHARED" && RESULTS_DIR="$OUT/kamailio-register" RATE=$RATE REPEATS=3 DURATION=10 ./bench.sh register) | grep -E '^RESULT' | tee "$OUT/kamailio-register.txt" || true
refresh kamailio $(pgrep -x kamailio)
"$SHARED/kamailio/run_kamailio.sh" stop >/dev/null
S=$(median sipedge); K=$(median kamailio)
echo "RATIO register-refresh bindings=$USERS rate=$RATE sipedge_us_reg=$S kamailio_us_reg=$K kamailio/sipedge=$(echo "scale=2; $K / $S" | bc)" | tee -a "$OUT/refresh.txt"
echo "raw output: $OUT"
