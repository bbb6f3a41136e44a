#!/usr/bin/env bash
# bench-memory.sh: peak RSS and throughput of `run tokenize` on Parquet corpora
# of growing size (by default about 100, 250, 500 and 1000 MB of text: the Go
# standard library's source from ../shared/corpora repeated, in 4 KiB
# documents), to show that read -> tokenize -> write streams with bounded memory.
#   SIZES_MB="100 1000" ENCODING=o200k_base RUNNER=prism ./scripts/bench-memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${CORPUS:-../shared/corpora/code_go_stdlib.txt}
ENCODING=${ENCODING:-cl100k_base}
RUNNER=${RUNNER:-prism}
SIZES_MB=${SIZES_MB:-100 250 500 1000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o bin/run ./cmd/run
corpus_bytes=$(stat -c %s "$CORPUS")
printf '| text MB | input file MB | rows | wall s | MB/s | peak RSS MiB |\n|---|---|---|---|---|---|\n'
for mb in $SIZES_MB; do
  repeat=$(( (mb * 1000000 + corpus_bytes - 1) / corpus_bytes ))
  rows=$(go run ./scripts/textcorpus --output "$work/corpus.parquet" --doc-bytes 4096 --repeat "$repeat" "$CORPUS" | awk '{print $3}')
  bytes=$(( corpus_bytes * repeat ))
  /usr/bin/time -f "%e %M" -o "$work/time" bin/run tokenize --input "$work/corpus.parquet" --output "$work/out" \
    --encoding "$ENCODING" --runner "$RUNNER" --overwrite > "$work/summary"
  read -r wall rss < "$work/time"
  awk -v b="$bytes" -v f="$(stat -c %s "$work/corpus.parquet")" -v n="$rows" -v w="$wall" -v r="$rss" 'BEGIN {
    printf "| %.0f | %.0f | %d | %.1f | %.1f | %.0f |\n", b / 1e6, f / 1e6, n, w, b / w / 1e6, r / 1024 }'
  rm -rf "$work/out" "$work/corpus.parquet"
done
