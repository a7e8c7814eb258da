#!/usr/bin/env bash
# deploy/dev/clickhouse.sh up|down|env|status — a private ClickHouse server for tests and development.
#
#   up      install Debian's clickhouse-server when missing, start it as root with its own config,
#           data, tmp and log directories under $STATE on free 127.0.0.1 ports, wait until it
#           answers, print the env lines. Idempotent: a running server is reused.
#   down    stop the server (TERM, then KILL after 20 s) and remove $STATE. Idempotent.
#   env     print CLICKHOUSE=127.0.0.1:<native port> and CLICKHOUSE_HTTP=127.0.0.1:<http port>
#           (for eval; tests read NUNCHI_TEST_CLICKHOUSE=$CLICKHOUSE).
#   status  exit 0 when the server answers.
#
# STATE = ${NUNCHI_SERVICES_DIR:-/tmp/nunchi-services}/clickhouse. Nothing listens beyond 127.0.0.1.
# Kafka engine tables (deploy/clickhouse/) read librdkafka settings from the <kafka> section below.
set -euo pipefail

STATE="${NUNCHI_SERVICES_DIR:-/tmp/nunchi-services}/clickhouse"
PIDFILE="$STATE/server.pid"
PORTS="$STATE/ports"

log() { echo "clickhouse.sh: $*" >&2; }

running() {
	[[ -f $PIDFILE ]] || return 1
	local pid
	pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

answers() {
	[[ -f $PORTS ]] || return 1
	# shellcheck source=/dev/null
	. "$PORTS"
	[[ $(curl -fsS --max-time 2 "http://127.0.0.1:$HTTP_PORT/ping" 2>/dev/null) == Ok.* ]]
}

print_env() {
	# shellcheck source=/dev/null
	. "$PORTS"
	echo "CLICKHOUSE=127.0.0.1:$TCP_PORT"
	echo "CLICKHOUSE_HTTP=127.0.0.1:$HTTP_PORT"
}

# free_port prints a TCP port nobody listens on (and not in $*).
free_port() {
	local used p
	used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 30000))
		if ! grep -qx "$p" <<<"$used" && [[ " $* " != *" $p "* ]]; then
			echo "$p"
			return
		fi
	done
	log "no free port found"
	exit 1
}

install_server() {
	command -v clickhouse-server >/dev/null && command -v clickhouse-client >/dev/null && return
	log "installing clickhouse-server (Debian)"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-cache show clickhouse-server >/dev/null 2>&1; then
		apt-get -o DPkg::Lock::Timeout=600 update -qq
	fi
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq clickhouse-server clickhouse-client >/dev/null
	# The package may start its own instance on the default ports; ours does not need it.
	if command -v systemctl >/dev/null; then systemctl stop clickhouse-server 2>/dev/null || true; fi
}

write_config() {
	local tcp=$1 http=$2 inter=$3
	mkdir -p "$STATE"/{data,tmp,log,user_files,format_schemas}
	cat >"$STATE/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$STATE/log/server.log</log>
        <errorlog>$STATE/log/server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$tcp</tcp_port>
    <http_port>$http</http_port>
    <interserver_http_port>$inter</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>64</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$STATE/data/</path>
    <tmp_path>$STATE/tmp/</tmp_path>
    <user_files_path>$STATE/user_files/</user_files_path>
    <format_schema_path>$STATE/format_schemas/</format_schema_path>
    <users_config>$STATE/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
    <merge_tree>
        <parts_to_delay_insert>600</parts_to_delay_insert>
        <parts_to_throw_insert>1200</parts_to_throw_insert>
    </merge_tree>
    <!-- librdkafka settings of Kafka engine tables (deploy/clickhouse/): a new consumer group
         starts at the oldest message, so rows produced before the tables existed are read too. -->
    <kafka>
        <api_version_request>true</api_version_request>
        <auto_offset_reset>smallest</auto_offset_reset>
    </kafka>
</yandex>
EOF
	cat >"$STATE/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <!-- Kafka engine tables read nunchi's JSON lines with JSONEachRow: nested objects
                 fill dotted columns ("flow.pkts_toserver"), other members are skipped.
                 Background Kafka consumers take the default profile's settings. -->
            <input_format_import_nested_json>1</input_format_import_nested_json>
            <input_format_skip_unknown_fields>1</input_format_skip_unknown_fields>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

start() {
	install_server
	mkdir -p "$STATE"
	local tcp http inter
	if [[ -f $PORTS ]]; then
		# shellcheck source=/dev/null
		. "$PORTS" # a restart keeps its ports (and data), so clients reconnect to the same address
		tcp=$TCP_PORT http=$HTTP_PORT inter=$INTER_PORT
	else
		tcp=$(free_port)
		http=$(free_port "$tcp")
		inter=$(free_port "$tcp" "$http")
		printf 'TCP_PORT=%s\nHTTP_PORT=%s\nINTER_PORT=%s\n' "$tcp" "$http" "$inter" >"$PORTS"
	fi
	write_config "$tcp" "$http" "$inter"
	# setsid: the server outlives the shell that started it and gets no terminal signals.
	# A background job is not a process-group leader, so setsid execs in place and $! is the server.
	(cd "$STATE" && exec setsid clickhouse-server --config-file="$STATE/config.xml" \
		</dev/null >>"$STATE/log/stdout.log" 2>&1) &
	echo $! >"$PIDFILE"
}

up() {
	local starts=0
	for _ in $(seq 240); do
		if running && answers; then
			print_env
			return
		fi
		# Not running (or a previous server still shutting down has exited): start one.
		# A server that is running but not answering yet is given time.
		if ! running; then
			if ((starts >= 3)); then
				break
			fi
			start
			starts=$((starts + 1))
		fi
		sleep 0.5
	done
	log "server did not answer within 120 s; last log lines:"
	tail -n 20 "$STATE/log/server.err.log" "$STATE/log/stdout.log" >&2 2>/dev/null || true
	exit 1
}

down() {
	if [[ -f $PIDFILE ]]; then
		local pid
		pid=$(cat "$PIDFILE" 2>/dev/null || true)
		if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 40); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.5
			done
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -rf "$STATE"
}

case "${1:-}" in
up) up ;;
down) down ;;
env)
	if ! answers; then
		log "not running (run: $0 up)"
		exit 1
	fi
	print_env
	;;
status) answers ;;
*)
	echo "usage: $0 up|down|env|status" >&2
	exit 2
	;;
esac
