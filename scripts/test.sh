#!/usr/bin/env bash
# The project's test command (README, .ci/run). Installs what the tests need
# on a fresh Debian machine, runs everything, cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."

export NUNCHI_TEST_REQUIRE_CORPUS=1   # the conformance corpus must be there: fail, never skip
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

echo "== go vet"
go vet ./...

echo "== go test (race)"
go test -race -count=1 -timeout 30m ./...

echo "== benchmarks, once each"
go test -run '^$' -bench . -benchtime 1x -timeout 30m ./...
