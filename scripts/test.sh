#!/usr/bin/env bash
# The project's test command (README, .ci/run). Installs what the tests need
# on a fresh Debian machine, runs everything, cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."

export NUNCHI_TEST_REQUIRE_CORPUS=1   # the conformance corpus must be there: fail, never skip
export NUNCHI_TEST_REQUIRE_NETNS=1    # live capture tests (network namespaces, AF_PACKET) must run
export NUNCHI_TEST_REQUIRE_CHROMIUM=1 # the HTML report is rendered in headless Chromium

echo "== dependencies (Debian packages)"
./scripts/install-deps.sh

echo "== services: Kafka-protocol broker and ClickHouse (deploy/dev/services.sh)"
export NUNCHI_SERVICES_DIR="${NUNCHI_SERVICES_DIR:-$(mktemp -d /tmp/nunchi-services.XXXXXX)}"
trap 'deploy/dev/services.sh down >/dev/null 2>&1 || true' EXIT
eval "$(deploy/dev/services.sh up)"
export NUNCHI_TEST_KAFKA="$KAFKA" NUNCHI_TEST_CLICKHOUSE="$CLICKHOUSE"
export NUNCHI_TEST_REQUIRE_SERVICES=1  # the sinks' integration tests must run against them
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

echo "== go vet"
go vet ./...

echo "== go test (race)"
go test -race -count=1 -timeout 30m ./...

echo "== libpcap build: in-process BPF compiler, libpcap live source"
go vet -tags libpcap ./capture/ ./internal/app/
go test -tags libpcap -race -count=1 -run 'BPF|Live' ./capture/ ./internal/app/

echo "== benchmarks, once each"
go test -run '^$' -bench . -benchtime 1x -timeout 30m ./...
