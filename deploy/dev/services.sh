#!/usr/bin/env bash
# deploy/dev/services.sh up|down|env|status — the services the integration tests talk to.
#
#   up      install kcat when missing; build nunchi-devbroker (franz-go's kfake as a standalone
#           Kafka-protocol broker, cmd/nunchi-devbroker) and start it on a free 127.0.0.1 port;
#           run deploy/dev/clickhouse.sh up when that script exists; wait until every service
#           answers (Kafka: kcat -L); print the env lines. Idempotent: running services are reused.
#   down    stop what up started (TERM, then KILL) and remove the state directory. Idempotent.
#   env     print KAFKA=127.0.0.1:<port> (and clickhouse.sh env's lines) for eval.
#   status  exit 0 when every service answers.
#
# State: ${NUNCHI_SERVICES_DIR:-/tmp/nunchi-services} (kafka/ here, clickhouse/ by clickhouse.sh).
# NUNCHI_SERVICES (default "kafka clickhouse") picks the services, e.g. NUNCHI_SERVICES=kafka.
# Tests read NUNCHI_TEST_KAFKA (and NUNCHI_TEST_CLICKHOUSE):
#
#   eval "$(deploy/dev/services.sh up)"
#   NUNCHI_TEST_KAFKA=$KAFKA NUNCHI_TEST_CLICKHOUSE=$CLICKHOUSE go test ./sinks/... ./internal/app/...
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${NUNCHI_SERVICES_DIR:-/tmp/nunchi-services}"
STATE="$DIR/kafka"
PIDFILE="$STATE/broker.pid"
PORTFILE="$STATE/port"
BIN="$STATE/nunchi-devbroker"
CLICKHOUSE="$ROOT/deploy/dev/clickhouse.sh"
SERVICES=" ${NUNCHI_SERVICES:-kafka clickhouse} "
[[ $SERVICES == *" clickhouse "* && -f $CLICKHOUSE ]] || CLICKHOUSE=""

log() { echo "services.sh: $*" >&2; }

running() {
	[[ -f $PIDFILE ]] || return 1
	local pid
	pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

answers() {
	[[ -f $PORTFILE ]] || return 1
	kcat -b "127.0.0.1:$(cat "$PORTFILE")" -L -m 2 >/dev/null 2>&1
}

# free_port prints a TCP port nobody listens on.
free_port() {
	local used p
	used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 30000))
		if ! grep -qx "$p" <<<"$used"; then
			echo "$p"
			return
		fi
	done
	log "no free port found"
	exit 1
}

install_packages() {
	local missing=()
	command -v kcat >/dev/null || missing+=(kcat)
	command -v ss >/dev/null || missing+=(iproute2)
	[[ ${#missing[@]} -eq 0 ]] && return
	log "installing ${missing[*]} (Debian)"
	export DEBIAN_FRONTEND=noninteractive
	local p
	for p in "${missing[@]}"; do
		if ! apt-cache show "$p" >/dev/null 2>&1; then
			apt-get -o DPkg::Lock::Timeout=600 update -qq
			break
		fi
	done
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
}

kafka_up() {
	if running && answers; then
		return
	fi
	if ! running; then
		mkdir -p "$STATE"
		log "building nunchi-devbroker"
		(cd "$ROOT" && go build -o "$BIN" ./cmd/nunchi-devbroker)
		local port
		if [[ -f $PORTFILE ]]; then
			port=$(cat "$PORTFILE") # a restart keeps its address, so clients reconnect
		else
			port=$(free_port)
			echo "$port" >"$PORTFILE"
		fi
		# setsid: the broker outlives this shell and gets no terminal signals;
		# a background job is not a group leader, so setsid execs in place and $! is the broker.
		(cd "$STATE" && exec setsid "$BIN" -addr "127.0.0.1:$port" </dev/null >>"$STATE/broker.log" 2>&1) &
		echo $! >"$PIDFILE"
	fi
	for _ in $(seq 120); do
		if answers; then
			return
		fi
		if ! running; then
			log "nunchi-devbroker exited; log:"
			tail -n 20 "$STATE/broker.log" >&2 || true
			exit 1
		fi
		sleep 0.5
	done
	log "nunchi-devbroker did not answer within 60 s; log:"
	tail -n 20 "$STATE/broker.log" >&2 || true
	exit 1
}

kafka_down() {
	if [[ -f $PIDFILE ]]; then
		local pid
		pid=$(cat "$PIDFILE" 2>/dev/null || true)
		if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 20); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.5
			done
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -rf "$STATE"
}

print_env() {
	echo "KAFKA=127.0.0.1:$(cat "$PORTFILE")"
	if [[ -n $CLICKHOUSE ]]; then
		bash "$CLICKHOUSE" env
	fi
}

case "${1:-}" in
up)
	install_packages
	kafka_up
	if [[ -n $CLICKHOUSE ]]; then
		bash "$CLICKHOUSE" up >/dev/null
	fi
	print_env
	;;
down)
	if [[ -n $CLICKHOUSE ]]; then
		bash "$CLICKHOUSE" down
	fi
	kafka_down
	rmdir "$DIR" 2>/dev/null || true
	;;
env)
	if [[ ! -f $PORTFILE ]]; then
		log "not started (run: $0 up)"
		exit 1
	fi
	print_env
	;;
status)
	answers || { log "kafka does not answer"; exit 1; }
	if [[ -n $CLICKHOUSE ]]; then
		bash "$CLICKHOUSE" status
	fi
	;;
*)
	echo "usage: $0 up|down|env|status" >&2
	exit 2
	;;
esac
