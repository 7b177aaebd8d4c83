#!/usr/bin/env bash
# Run one cargo-fuzz target for a while, on stable Rust (no sanitizer: `-s none`), seeded
# with the SIP corpora under tests/corpora. Crashes land in fuzz/artifacts/TARGET/; copy each
# one into proto's tests as a regression case.
#
#   fuzz/run.sh TARGET [SECONDS]      TARGET: parse_message | stream_framer | uri
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TARGET=${1:?usage: fuzz/run.sh TARGET [SECONDS]}
SECONDS_TO_RUN=${2:-600}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
CORPUS=$HERE/corpus/$TARGET
mkdir -p "$CORPUS"
if [ -z "$(ls -A "$CORPUS")" ]; then
    case $TARGET in
        parse_message|stream_framer)
            find "$HERE/../tests/corpora" -name '*.dat' -o -name '*.sip' | while read -r f; do
                cp "$f" "$CORPUS/$(basename "$f")"
            done ;;
        uri)
            for u in 'sip:alice@example.com' 'sips:+1-555@[2001:db8::1]:5061;transport=tls?subject=x' \
                     'sip:%61lice:pw@10.0.0.1;maddr=10.0.0.2;lr' 'tel:+1-201-555-0123;phone-context=x'; do
                printf '%s' "$u" > "$CORPUS/$(printf '%s' "$u" | md5sum | cut -c1-12)"
            done ;;
    esac
fi
cd "$HERE"
cargo fuzz build -s none "$TARGET"
cargo fuzz run -s none "$TARGET" "$CORPUS" -- -max_total_time="$SECONDS_TO_RUN" -print_final_stats=1 2>&1 |
    tee "$HERE/last-$TARGET.log" | grep -E '^(#[0-9]+.*(pulse|DONE)|stat::|==|SUMMARY|Done)' || true
grep -q 'stat::number_of_executed_units' "$HERE/last-$TARGET.log"
