#!/usr/bin/env bash
# One SIPp socket (one 4-tuple, like one carrier trunk) sending the stateless INVITE -> 404
# -> ACK flow to sipedge, once per steering mode. Prints each worker's CPU time and message
# counts, and estimates the cost of one IPC hop: in `hash` mode one worker reads everything
# and steers what the other owns over IPC; in `random` mode the kernel spreads the reads and
# stateless requests are answered where they land (no hop). By hand only.
#
#   bench/sipp/one_socket.sh [RATE] [SECONDS]       defaults 10000, 10
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RATE=${1:-10000}
SECS=${2:-10}
CALLS=$((RATE * SECS))
(cd "$REPO" && cargo build --release --bin sipedge) >/dev/null 2>&1
SIPEDGE=$REPO/target/release/sipedge
TICK=$(getconf CLK_TCK)
mkdir -p /tmp/sipedge-bench

cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }

for mode in random hash; do
    conf=/tmp/sipedge-bench/one-socket-$mode.toml
    sed "s/^receive_buffer = 4194304/receive_buffer = 4194304\nsteering = \"$mode\"/" \
        "$HERE/sipedge-bench.toml" >"$conf"
    rm -rf /tmp/sipedge-bench/store
    "$SIPEDGE" run -c "$conf" 2>/dev/null &
    master=$!
    sleep 1
    workers=$(cat /proc/$master/task/*/children)
    declare -A before=()
    for w in $workers; do before[$w]=$(cpu_of "$w"); done
    sipp -s 404 127.0.0.1:5060 -i 127.0.0.1 -p 5070 -m "$CALLS" -r "$RATE" -nostdin \
        -timeout 60s -sf "$REPO/tests/scenarios/uac_404.xml" >/dev/null 2>&1 || echo "sipp rc=$?"
    total=0
    echo "== steering=$mode: $CALLS calls at $RATE/s from one socket"
    for w in $workers; do
        used=$(( ( $(cpu_of "$w") - ${before[$w]} ) * 1000000 / TICK ))
        total=$((total + used))
        echo "worker pid $w: cpu_ms=$((used / 1000))"
    done
    "$SIPEDGE" ctl -c "$conf" status | sed -n '2,$p'
    echo "total worker cpu: $((total / CALLS)) us/call"
    echo "$mode $total" >>/tmp/sipedge-bench/one-socket.sum
    fwd=$(curl -s 127.0.0.1:9060/metrics | awk '/^sipedge_ipc_forwarded_total/ {s += $2} END {print s + 0}')
    echo "ipc hops: $fwd"
    echo "$mode-hops $fwd" >>/tmp/sipedge-bench/one-socket.sum
    kill "$master"; wait "$master" 2>/dev/null || true
    sleep 1
done
r=$(awk '$1 == "random" {print $2}' /tmp/sipedge-bench/one-socket.sum | tail -1)
h=$(awk '$1 == "hash" {print $2}' /tmp/sipedge-bench/one-socket.sum | tail -1)
hops=$(awk '$1 == "hash-hops" {print $2}' /tmp/sipedge-bench/one-socket.sum | tail -1)
rm -f /tmp/sipedge-bench/one-socket.sum
[ "${hops:-0}" -gt 0 ] && echo "IPC hop cost ~ $(( (h - r) / hops )) us of worker CPU per steered datagram ((hash - random) / hops)"
