#!/usr/bin/env bash
# bench-cli.sh: throughput of `run tokenize` on a shared corpus (default: the
# largest, ../shared/corpora/code_go_stdlib.txt), cut into 4 KiB documents.
# Prints MB/s of text, wall time and peak RSS (from the CLI and /usr/bin/time).
#   CORPUS=path ENCODING=o200k_base REPEAT=4 ./scripts/bench-cli.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${CORPUS:-../shared/corpora/code_go_stdlib.txt}
ENCODING=${ENCODING:-cl100k_base}
REPEAT=${REPEAT:-1}
RUNNER=${RUNNER:-prism}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o bin/run ./cmd/run
go run ./scripts/textcorpus --output "$work/corpus.parquet" --doc-bytes 4096 --repeat "$REPEAT" "$CORPUS"
bytes=$(( $(stat -c %s "$CORPUS") * REPEAT ))
start=$(date +%s.%N)
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "time: wall %e s, peak RSS %M KiB" bin/run tokenize --input "$work/corpus.parquet" --output "$work/out" \
    --encoding "$ENCODING" --runner "$RUNNER"
else
  bin/run tokenize --input "$work/corpus.parquet" --output "$work/out" --encoding "$ENCODING" --runner "$RUNNER"
fi
end=$(date +%s.%N)
awk -v b="$bytes" -v s="$start" -v e="$end" -v c="$CORPUS" -v enc="$ENCODING" 'BEGIN {
  w = e - s; printf "bench-cli: %s (%d bytes, %s): %.2f s wall for the whole command, %.2f MB/s\n", c, b, enc, w, b / w / 1e6 }'
