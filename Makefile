# Minerva Batch — the two set-up commands are `make run` and `make test`.
GO      ?= go
NPM     ?= npm
# Arguments for the demo job of `make run`.
RUN_ARGS ?=

.PHONY: run run-infer bench-infer bench-memory test deps xcheck-deps vet unit pipeline-direct generate bench-cli bench-tokenize bench-engine clean help

help:
	@echo "make run    - tokenize testdata/corpus.parquet into ./out on Beam's prism runner and print the statistics"
	@echo "make test   - the whole test suite (installs the node cross-check packages itself)"
	@echo "make run-infer - batch inference demo: testdata/requests.parquet on stories260K into ./out-infer"

## deps: fetch the Go modules.
deps:
	$(GO) mod download

## xcheck-deps: install the reference implementations the tests cross-check against
## (OpenAI tiktoken's WASM build, DuckDB, Hugging Face tokenizers) from the npm registry.
tools/xcheck/node_modules/.package-lock.json: tools/xcheck/package.json tools/xcheck/package-lock.json
	$(NPM) ci --prefix tools/xcheck --no-audit --no-fund
xcheck-deps: tools/xcheck/node_modules/.package-lock.json tools/bench/node_modules/.package-lock.json

## run: the demo tokenization job (running it twice works: --overwrite).
run: deps
	$(GO) run ./cmd/run tokenize --config configs/tokenize.yaml --output out --overwrite $(RUN_ARGS)

## run-infer: the demo batch inference job (configs/infer.yaml) on the
## stories260K model from ../shared/models.
run-infer: deps
	$(GO) run ./cmd/run infer --config configs/infer.yaml --overwrite $(RUN_ARGS)

## test: vet, every package's tests (pipelines on prism), then the pipeline
## tests again on the direct runner.
test: deps xcheck-deps vet unit pipeline-direct

vet:
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed on:"; gofmt -l .; exit 1; }

unit:
	MINERVA_REQUIRE_XCHECK=1 $(GO) test -count=1 ./...
	# The portable (non-assembly) kernels, which other CPUs run, give the same greedy ids.
	MINERVA_NOASM=1 $(GO) test -count=1 ./engine/tensor/ ./engine/llama/

pipeline-direct:
	MINERVA_REQUIRE_XCHECK=1 $(GO) test -count=1 ./transforms/... ./pipelines/... ./cmd/... -args -runner=direct

## generate: regenerate the Unicode tables and the demo corpus.
generate:
	$(GO) generate ./...
	$(GO) run ./testdata/gen

## bench-tokenize: our tokenizer and the anchors (tiktoken WASM and native, gpt-tokenizer,
## Hugging Face tokenizers) on the same corpora in one run: MB/s and ratios.
tools/bench/node_modules/.package-lock.json: tools/bench/package.json tools/bench/package-lock.json
	$(NPM) ci --prefix tools/bench --no-audit --no-fund
bench-tokenize: tools/bench/node_modules/.package-lock.json
	$(GO) run ./scripts/benchtok

## bench-engine: the inference engine on stories260K and the stories15M/110M shapes
## (generated once into $$TMPDIR/minerva-bench-models) beside llama2.c's run.c, which is
## not part of this repository: set LLAMA2C_RUNC=/path/to/run.c to include it.
bench-engine:
	$(GO) run ./scripts/benchengine $(BENCH_ARGS)

## bench-infer: the batch inference job beside the engine alone on the same
## requests (stories15M shape), and adaptive against fixed batch sizes.
bench-infer:
	$(GO) run ./scripts/benchinfer $(BENCH_ARGS)

## bench-memory: peak RSS of `run tokenize` on corpora of 100 MB to 1 GB.
bench-memory:
	./scripts/bench-memory.sh

## bench-cli: throughput of `run tokenize` on the largest shared corpus.
bench-cli:
	./scripts/bench-cli.sh

clean:
	rm -rf out out-* bin
