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

# Whole-replay and micro benchmarks (generates the benchgen pcap in $TMPDIR/nunchi-bench).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./pipeline/
	$(GO) test -run '^$$' -bench . ./capture/ ./reassembly/

# Run every fuzz target for FUZZTIME each.
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

demo: build
	./bin/nunchi replay testdata/demo.pcap

clean:
	rm -rf bin
