#!/usr/bin/env bash
# span-lab.sh builds a small switched network with a SPAN port, for live
# capture tests:
#
#   client ns (eth0 192.0.2.10, 2001:db8::10) ─┐
#                                             br0 in the switch ns ── mirror ──▶ sensor interface
#   server ns (eth0 192.0.2.20, 2001:db8::20) ─┘                                (root namespace)
#
# The switch mirrors every frame entering the bridge from either port to the
# sensor port with `tc … u32 match u8 0 0 action mirred egress mirror` (this
# kernel has no matchall classifier): a real SPAN. The server runs nginx
# (HTTP 80/8080, HTTPS 443 with a self-signed certificate for
# www.example.com) and dnsmasq (www.example.com, blocked.example).
#
#   span-lab.sh up DIR        build it; DIR/lab.env gets SENSOR_IF, CLI_NS, SRV_NS, SW_NS
#   span-lab.sh traffic DIR   real clients: dig, curl (HTTP/1.1, TLS 1.3 v4+v6), openssl s_client
#   span-lab.sh down DIR      stop the servers, delete namespaces and interfaces
#
# NUNCHI_LAB_DOUBLE_MIRROR=1 at `up` mirrors the ports' egress as well, so the
# sensor gets every frame twice (SPAN duplicate tests). NUNCHI_LAB_SPLIT_MIRROR=1
# sends the server port's frames to a second sensor interface (SENSOR2_IF):
# the two directions of a tap.
#
# Needs root, iproute2, nginx, dnsmasq, curl, dig, openssl (installed when
# missing). Documentation addresses only; nothing leaves the namespaces.
set -euo pipefail

cmd=${1:?usage: span-lab.sh up|traffic|down DIR}
dir=$(realpath -m "${2:?usage: span-lab.sh up|traffic|down DIR}")

need_tools() {
	local need=()
	for pair in nginx:nginx curl:curl dnsmasq:dnsmasq dig:dnsutils openssl:openssl ip:iproute2 tc:iproute2 tcpdump:tcpdump ping:iputils-ping; do
		command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
	done
	if ((${#need[@]})); then
		apt-get -o DPkg::Lock::Timeout=600 update -q >&2
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "${need[@]}" >&2
	fi
}

up() {
	need_tools
	mkdir -p "$dir"
	local id=${NUNCHI_LAB_ID:-}
	while [[ -z $id ]] || ip netns list | grep -qw "nl-sw-$id"; do
		id=$(printf '%05x' $(((RANDOM << 8 ^ $$) & 0xfffff)))
	done
	local cli=nl-cli-$id srv=nl-srv-$id sw=nl-sw-$id sensor=nlspan$id
	cat >"$dir/lab.env" <<ENV
LAB_ID=$id
CLI_NS=$cli
SRV_NS=$srv
SW_NS=$sw
SENSOR_IF=$sensor
ENV
	ip netns add "$cli"
	ip netns add "$srv"
	ip netns add "$sw"
	for ns in "$cli" "$srv" "$sw"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
		ip netns exec "$ns" ip link set lo up
	done
	ip netns exec "$sw" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip netns exec "$sw" ip link add br0 type bridge
	ip netns exec "$sw" ip link set br0 up
	# client and server ports
	local ns name mac v4 v6
	for spec in "$cli c 02:00:00:00:00:0a 192.0.2.10 2001:db8::10" "$srv s 02:00:00:00:00:14 192.0.2.20 2001:db8::20"; do
		read -r ns name mac v4 v6 <<<"$spec"
		ip link add "nl$name$id" type veth peer name "nlp$name$id"
		ip link set "nl$name$id" netns "$ns"
		ip link set "nlp$name$id" netns "$sw"
		ip netns exec "$ns" ip link set "nl$name$id" name eth0
		ip netns exec "$ns" ip link set eth0 address "$mac"
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_ra=0 net.ipv6.conf.eth0.router_solicitations=0
		ip netns exec "$ns" ip addr add "$v4/24" dev eth0
		ip netns exec "$ns" ip -6 addr add "$v6/64" dev eth0 nodad
		ip netns exec "$ns" ip link set eth0 up
		ip netns exec "$sw" ip link set "nlp$name$id" master br0 up
	done
	# the SPAN port: one end in the switch, the other is the sensor's interface
	ip link add "$sensor" type veth peer name "nlm$id"
	ip link set "nlm$id" netns "$sw"
	sysctl -qw "net.ipv6.conf.$sensor.disable_ipv6=1"
	ip link set "$sensor" up
	ip netns exec "$sw" ip link set "nlm$id" up
	# the injection port: a second sensor interface, attached to the bridge
	# like a router port would be; what enters from it is mirrored too, so
	# the sensor sees its own forged packets come back
	ip link add "nlinj$id" type veth peer name "nli$id"
	ip link set "nli$id" netns "$sw"
	sysctl -qw "net.ipv6.conf.nlinj$id.disable_ipv6=1"
	ip link set "nlinj$id" up
	ip netns exec "$sw" ip link set "nli$id" master br0 up
	echo "INJECT_IF=nlinj$id" >>"$dir/lab.env"
	# NUNCHI_LAB_SPLIT_MIRROR=1: a tap's two directions on two sensor
	# interfaces: the server port's traffic goes to a second one.
	local mirror_s="nlm$id"
	if [[ ${NUNCHI_LAB_SPLIT_MIRROR:-0} == 1 ]]; then
		ip link add "nlspb$id" type veth peer name "nlmb$id"
		ip link set "nlmb$id" netns "$sw"
		sysctl -qw "net.ipv6.conf.nlspb$id.disable_ipv6=1"
		ip link set "nlspb$id" up
		ip netns exec "$sw" ip link set "nlmb$id" up
		mirror_s="nlmb$id"
		echo "SENSOR2_IF=nlspb$id" >>"$dir/lab.env"
	fi
	for port in "nlpc$id" "nlps$id" "nli$id"; do
		local to="nlm$id"
		[[ $port == "nlps$id" ]] && to=$mirror_s
		ip netns exec "$sw" tc qdisc add dev "$port" ingress
		ip netns exec "$sw" tc filter add dev "$port" parent ffff: protocol all u32 match u8 0 0 \
			action mirred egress mirror dev "$to"
		if [[ ${NUNCHI_LAB_DOUBLE_MIRROR:-0} == 1 ]]; then
			# mirror each port's egress too: every frame reaches the sensor
			# twice, as on a SPAN session with both directions selected
			ip netns exec "$sw" tc qdisc add dev "$port" root handle 1: htb
			ip netns exec "$sw" tc filter add dev "$port" parent 1: protocol all u32 match u8 0 0 \
				action mirred egress mirror dev "$to"
		fi
	done

	# servers
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$dir/key.pem" -out "$dir/cert.pem" -days 30 \
		-subj "/CN=www.example.com" -addext "subjectAltName=DNS:www.example.com" 2>/dev/null
	mkdir -p "$dir/www" "$dir/tmp"
	printf '<!doctype html><title>www.example.com</title><p>nunchi span lab</p>\n' >"$dir/www/index.html"
	chmod -R a+rX "$dir"
	chmod a+x "$dir"
	# NUNCHI_LAB_BACKEND=ADDR: the servers listen on ADDR (a loopback address
	# of the server namespace) instead of 192.0.2.20, behind a relay the
	# test starts on 192.0.2.20 that delays their replies (this kernel has no
	# netem): a server far away, as an ISP's blocker sees it.
	local be=${NUNCHI_LAB_BACKEND:-}
	local l4=192.0.2.20 l6='[2001:db8::20]'
	if [[ -n $be ]]; then
		l4=$be l6=$be
		ip netns exec "$srv" ip addr add "$be/8" dev lo 2>/dev/null || true
		echo "BACKEND=$be" >>"$dir/lab.env"
	fi
	cat >"$dir/nginx.conf" <<NGINX
user www-data;
daemon on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 64; }
http {
	access_log $dir/nginx-access.log;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	default_type text/html;
	server_tokens off;
	keepalive_timeout 5;
	server {
		listen $l4:80;
		$( [[ $l6 != "$l4" ]] && echo "listen $l6:80;" )
		server_name www.example.com;
		root $dir/www;
	}
	server {
		listen $l4:8080;
		server_name blocked.example;
		location / { return 200 "blocked.example: you asked for \$request_uri\n"; }
	}
	server {
		listen $l4:443 ssl;
		$( [[ $l6 != "$l4" ]] && echo "listen $l6:443 ssl;" )
		server_name www.example.com;
		ssl_certificate $dir/cert.pem;
		ssl_certificate_key $dir/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		root $dir/www;
	}
}
NGINX
	ip netns exec "$srv" nginx -c "$dir/nginx.conf" -p "$dir"
	local dnsopts=(--listen-address=192.0.2.20 --bind-interfaces --except-interface=lo)
	[[ -n $be ]] && dnsopts=(--listen-address="$be" --bind-interfaces)
	ip netns exec "$srv" dnsmasq --no-resolv --no-hosts --no-poll "${dnsopts[@]}" \
		--address=/www.example.com/192.0.2.20 --address=/www.example.com/2001:db8::20 \
		--address=/blocked.example/192.0.2.20 --local-ttl=300 \
		--log-facility="$dir/dnsmasq.log" --pid-file="$dir/dnsmasq.pid"
	for _ in $(seq 100); do
		if [[ -s $dir/nginx.pid ]] && ip netns exec "$srv" ss -Htln | grep -q "$l4:443" &&
			ip netns exec "$srv" ss -Huln | grep -q "$l4:53"; then
			# neighbours resolved before any test capture starts
			ip netns exec "$cli" ping -c1 -W2 192.0.2.20 >/dev/null
			ip netns exec "$cli" ping -6 -c1 -W2 2001:db8::20 >/dev/null
			return 0
		fi
		sleep 0.1
	done
	echo "span-lab.sh: servers did not start" >&2
	return 1
}

traffic() {
	# shellcheck disable=SC1091
	source "$dir/lab.env"
	in_cli() { ip netns exec "$CLI_NS" "$@"; }
	step() { in_cli "$@"; sleep 0.2; }
	step dig +tries=1 +time=2 @192.0.2.20 www.example.com A >/dev/null
	step dig +tries=1 +time=2 @192.0.2.20 blocked.example A >/dev/null
	step curl -sS --http1.1 --resolve www.example.com:80:192.0.2.20 http://www.example.com/ -o /dev/null
	step curl -sS --http1.1 --resolve blocked.example:8080:192.0.2.20 'http://blocked.example:8080/path?x=1' -o /dev/null
	step curl -sS --http1.1 --tlsv1.3 -k --resolve www.example.com:443:192.0.2.20 https://www.example.com/ -o /dev/null
	step curl -sS --http1.1 --tlsv1.3 -k --resolve 'www.example.com:443:[2001:db8::20]' https://www.example.com/ -o /dev/null
	printf 'GET / HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n' |
		step openssl s_client -tls1_2 -servername www.example.com -connect 192.0.2.20:443 -quiet >/dev/null 2>&1
}

down() {
	[[ -f $dir/lab.env ]] || return 0
	# shellcheck disable=SC1091
	source "$dir/lab.env"
	set +e
	for f in "$dir/nginx.pid" "$dir/dnsmasq.pid"; do
		[[ -s $f ]] && kill "$(cat "$f")" 2>/dev/null
	done
	for ns in "$CLI_NS" "$SRV_NS" "$SW_NS"; do
		if ip netns list | grep -qw "$ns"; then
			for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
		fi
	done
	sleep 0.2
	for ns in "$CLI_NS" "$SRV_NS" "$SW_NS"; do
		ip netns del "$ns" 2>/dev/null
	done
	ip link del "$SENSOR_IF" 2>/dev/null
	[[ -n ${INJECT_IF:-} ]] && ip link del "$INJECT_IF" 2>/dev/null
	[[ -n ${SENSOR2_IF:-} ]] && ip link del "$SENSOR2_IF" 2>/dev/null
	rm -rf "$dir"
	return 0
}

case $cmd in
up) up ;;
traffic) traffic ;;
down) down ;;
*)
	echo "usage: span-lab.sh up|traffic|down DIR" >&2
	exit 2
	;;
esac
