# nunchi — developer entry points. `make test` is the CI command (.ci/run).
GO ?= go
FUZZTIME ?= 30s

.PHONY: build test test-short bench fuzz demo clean

build:
	$(GO) build -o bin/nunchi ./cmd/nunchi

# Everything CI runs: vet, all tests with the race detector (the shared
# conformance corpus is required, not skipped), and every benchmark once
# so none rots.
test:
	./scripts/test.sh

test-short:
	$(GO) test -short ./...

# nunchi against Suricata on the benchgen capture, A/B rounds (scripts/bench.sh;
# docs/performance.md). Pcaps in /tmp/nunchi-bench. NUNCHI_BENCH_QUICK=1: the
# 200 MB pcap; NUNCHI_BENCH_PAIRS=N rounds; NUNCHI_BENCH_REV=HEAD: the last commit.
# Then the decode/flow micro benchmarks.
bench:
	./scripts/bench.sh
	$(GO) test -run '^$$' -bench . ./capture/ ./reassembly/

# Run every fuzz target for FUZZTIME each.
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

demo: build
	./bin/nunchi replay testdata/demo.pcap

clean:
	rm -rf bin
