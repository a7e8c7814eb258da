#!/usr/bin/env bash
# capture-netns.sh records testdata/demo.pcap: real clients (dig, curl,
# openssl s_client) talking to real servers (nginx, dnsmasq) in two network
# namespaces joined by a veth pair, captured by tcpdump on the server's end.
#
#   sudo testdata/gen/capture-netns.sh [OUTPUT]      (default: testdata/demo.pcap)
#
# Addresses (documentation ranges only; nothing leaves the namespaces):
#   client namespace: 192.0.2.10/24, 2001:db8::10/64, MAC 02:00:00:00:00:0a
#   server namespace: 192.0.2.20/24, 2001:db8::20/64, MAC 02:00:00:00:00:14
#
# The server runs nginx (HTTP on 80 and 8080, HTTPS on 443 with a self-signed
# certificate for www.example.com made here by openssl) and dnsmasq
# (www.example.com A 192.0.2.20 and AAAA 2001:db8::20, blocked.example A
# 192.0.2.20). The client then runs, in order:
#   dig @192.0.2.20 www.example.com A
#   dig @192.0.2.20 www.example.com AAAA
#   dig @192.0.2.20 blocked.example A
#   curl --http1.1 http://www.example.com/                  (over IPv4)
#   curl --http1.1 'http://blocked.example:8080/path?x=1'   (over IPv4)
#   curl --http1.1 --tlsv1.3 -k https://www.example.com/    (over IPv4)
#   curl --http1.1 --tlsv1.3 -k https://www.example.com/    (over IPv6)
#   openssl s_client -tls1_2 -servername www.example.com    (over IPv4, one GET)
# curl resolves names with --resolve, so only dig talks to dnsmasq.
#
# The capture is not reproducible byte for byte (TLS randoms, ports and
# timestamps change); testdata/README.md records when it was made.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$(realpath -m "${1:-$here/../demo.pcap}")
max_size=$((50 * 1000))

if [[ $(id -u) -ne 0 ]]; then
	echo "capture-netns.sh: must run as root (network namespaces, tcpdump)" >&2
	exit 1
fi

# Install what is missing.
need=()
for pair in tcpdump:tcpdump nginx:nginx curl:curl dnsmasq:dnsmasq dig:dnsutils openssl:openssl ip:iproute2; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
done
if ((${#need[@]})); then
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi

# Names unique to this run, so that two runs cannot collide.
cli=nunchi-cli-$$
srv=nunchi-srv-$$
work=$(mktemp -d /tmp/nunchi-capture.XXXXXX)
tcpdump_pid=
dnsmasq_pid=
nginx_pid=

cleanup() {
	local rc=$?
	set +e
	if [[ -n $tcpdump_pid ]] && kill -0 "$tcpdump_pid" 2>/dev/null; then
		kill -INT "$tcpdump_pid"
		wait "$tcpdump_pid" 2>/dev/null
	fi
	if [[ -n $nginx_pid ]]; then
		kill -QUIT "$nginx_pid" 2>/dev/null
		wait "$nginx_pid" 2>/dev/null
	fi
	if [[ -n $dnsmasq_pid ]]; then
		kill "$dnsmasq_pid" 2>/dev/null
		wait "$dnsmasq_pid" 2>/dev/null
	fi
	# Anything still running inside our namespaces was started by us.
	for ns in "$cli" "$srv"; do
		if ip netns list | grep -qw "$ns"; then
			for pid in $(ip netns pids "$ns" 2>/dev/null); do
				kill "$pid" 2>/dev/null
			done
			sleep 0.2
			ip netns del "$ns"
		fi
	done
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_cli() { ip netns exec "$cli" "$@"; }
in_srv() { ip netns exec "$srv" "$@"; }

# --- Network ---------------------------------------------------------------

ip netns add "$cli"
ip netns add "$srv"
ip link add "nc$$a" type veth peer name "nc$$b"
ip link set "nc$$a" netns "$cli"
ip link set "nc$$b" netns "$srv"

setup_ns() { # ns old-name mac ipv4 ipv6
	local ns=$1 dev=$2 mac=$3 v4=$4 v6=$5
	ip netns exec "$ns" ip link set "$dev" name eth0
	ip netns exec "$ns" ip link set eth0 address "$mac"
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_ra=0 net.ipv6.conf.eth0.router_solicitations=0
	ip netns exec "$ns" ip addr add "$v4/24" dev eth0
	ip netns exec "$ns" ip -6 addr add "$v6/64" dev eth0 nodad
	ip netns exec "$ns" ip link set lo up
	ip netns exec "$ns" ip link set eth0 up
}
setup_ns "$cli" "nc$$a" 02:00:00:00:00:0a 192.0.2.10 2001:db8::10
setup_ns "$srv" "nc$$b" 02:00:00:00:00:14 192.0.2.20 2001:db8::20

# --- Servers ---------------------------------------------------------------

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$work/key.pem" -out "$work/cert.pem" -days 30 \
	-subj "/CN=www.example.com" -addext "subjectAltName=DNS:www.example.com" 2>/dev/null

mkdir -p "$work/www" "$work/tmp"
cat >"$work/www/index.html" <<'EOF'
<!doctype html>
<html><head><title>www.example.com</title></head>
<body><p>nunchi demo page served by nginx in a network namespace.</p></body></html>
EOF
chmod -R a+rX "$work"

cat >"$work/nginx.conf" <<EOF
user www-data;
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 64; }
http {
	access_log $work/nginx-access.log;
	client_body_temp_path $work/tmp/body;
	proxy_temp_path $work/tmp/proxy;
	fastcgi_temp_path $work/tmp/fastcgi;
	uwsgi_temp_path $work/tmp/uwsgi;
	scgi_temp_path $work/tmp/scgi;
	default_type text/html;
	server_tokens off;
	keepalive_timeout 5;

	server {
		listen 192.0.2.20:80;
		listen [2001:db8::20]:80;
		server_name www.example.com;
		root $work/www;
	}
	server {
		listen 192.0.2.20:8080;
		listen [2001:db8::20]:8080;
		server_name blocked.example;
		location / { return 200 "blocked.example: you asked for \$request_uri\n"; }
	}
	server {
		listen 192.0.2.20:443 ssl;
		listen [2001:db8::20]:443 ssl;
		server_name www.example.com;
		ssl_certificate $work/cert.pem;
		ssl_certificate_key $work/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		root $work/www;
	}
}
EOF
# Servers run in the foreground, started with ip netns exec directly (not
# through a shell function) so that $! is the server's own pid (ip netns exec
# execs the command) and this script reaps it.
ip netns exec "$srv" nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
ip netns exec "$srv" dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll \
	--listen-address=192.0.2.20 --bind-interfaces --except-interface=lo \
	--address=/www.example.com/192.0.2.20 \
	--address=/www.example.com/2001:db8::20 \
	--address=/blocked.example/192.0.2.20 --local-ttl=300 \
	--log-facility="$work/dnsmasq.log" --pid-file="$work/dnsmasq.pid" &
dnsmasq_pid=$!

# Wait until both servers answer.
for _ in $(seq 50); do
	if [[ -s $work/nginx.pid ]] && in_srv ss -Htln | grep -q '192.0.2.20:443' &&
		in_srv ss -Huln | grep -q '192.0.2.20:53'; then
		break
	fi
	sleep 0.1
done
sleep 1 # let neighbour discovery and MLD settle before capturing

# --- Capture ---------------------------------------------------------------

ip netns exec "$srv" tcpdump -i eth0 -n -s 0 -U -w "$work/demo.pcap" 2>"$work/tcpdump.log" &
tcpdump_pid=$!
for _ in $(seq 50); do
	grep -q "listening on" "$work/tcpdump.log" 2>/dev/null && break
	sleep 0.1
done

step() { echo "+ $*" >&2; in_cli "$@"; sleep 0.3; }

step dig +tries=1 +time=2 @192.0.2.20 www.example.com A
step dig +tries=1 +time=2 @192.0.2.20 www.example.com AAAA
step dig +tries=1 +time=2 @192.0.2.20 blocked.example A
step curl -sS --http1.1 --resolve www.example.com:80:192.0.2.20 \
	http://www.example.com/ -o /dev/null
step curl -sS --http1.1 --resolve blocked.example:8080:192.0.2.20 \
	'http://blocked.example:8080/path?x=1' -o /dev/null
step curl -sS --http1.1 --tlsv1.3 -k --resolve www.example.com:443:192.0.2.20 \
	https://www.example.com/ -o /dev/null
step curl -sS --http1.1 --tlsv1.3 -k --resolve 'www.example.com:443:[2001:db8::20]' \
	https://www.example.com/ -o /dev/null
printf 'GET / HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n' |
	step openssl s_client -tls1_2 -servername www.example.com -connect 192.0.2.20:443 -quiet >/dev/null 2>&1

sleep 0.5
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true
tcpdump_pid=
cat "$work/tcpdump.log" >&2

size=$(stat -c %s "$work/demo.pcap")
if ((size > max_size)); then
	echo "capture-netns.sh: capture is $size bytes, more than $max_size" >&2
	exit 1
fi
install -m 0644 "$work/demo.pcap" "$out"
echo "wrote $out ($size bytes)" >&2
