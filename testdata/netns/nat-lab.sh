#!/usr/bin/env bash
# nat-lab.sh builds a real NAT between client namespaces and servers, with a
# tap on each side of the router, for the NAT detector's live tests:
#
#   c1 eth0 192.0.2.11 ─┐                                       ┌─ srv eth0 203.0.113.10, .11 (nginx, stund)
#   c2 eth0 192.0.2.12 ─┼─ brin ─ router (eth0 192.0.2.1,  ─ brout ─┤
#   …                   ┘         eth1 198.51.100.1, NAT)        └─ web eth0 203.0.113.20 (nginx)
#              │ (switch ns)                          (switch ns) │
#              ▼ mirror                                    mirror ▼
#            IN_IF (root namespace)                    OUT_IF (root namespace)
#
# Both bridges live in one switch namespace. Every frame entering either
# bridge from any port is mirrored once, with `tc … u32 match u8 0 0 action
# mirred egress mirror` on the ports' ingress qdiscs (this kernel has no
# matchall): the inside ports go to IN_IF, the outside ports to OUT_IF.
# The servers sit directly on the outside segment: they have an on-link
# /32 route to the router's public address (so NAT_LAB_PUBLIC may be any
# address, 100.64.0.1/10 for a carrier-grade NAT), and the router has an
# on-link route to 203.0.113.0/24. Nothing else is routed anywhere.
#
#   nat-lab.sh up DIR             build it; DIR/lab.env (see below)
#   nat-lab.sh traffic DIR        every client: curl HTTP to .10 and .20 (3 each),
#                                 HTTPS to .10; client 1: the STUN client
#                                 (DIR/stun.out); with NAT_LAB_UPNP=1 also
#                                 upnpc -a and an inbound connection (DIR/upnp.out)
#   nat-lab.sh stun DIR [I]       only the STUN client, from client I (default 1)
#   nat-lab.sh upnp DIR           only the UPnP mapping and the inbound connection
#   nat-lab.sh down DIR           stop everything, delete namespaces and interfaces
#
# Settings (environment, at `up`):
#   NAT_LAB_CLIENTS=N     client namespaces (default 2, at most 200)
#   NAT_LAB_VARIANT=V     the router's NAT, all nftables (table ip natlab):
#     port_restricted        `masquerade` (default). Linux keeps a free source
#                            port: endpoint-independent mapping, address-and-
#                            port-dependent filtering (conntrack).
#     restricted_cone        masquerade; after NAT every outbound UDP packet
#                            records {mapped port . remote address} in a
#                            dynamic set and {mapped port : client} in a
#                            dynamic map; inbound UDP from any port of a
#                            recorded address to that mapped port is DNATed to
#                            the client (address-dependent filtering).
#     full_cone              the same map, but any inbound UDP to a mapped port
#                            is DNATed to its client (endpoint-independent
#                            filtering).
#     symmetric_random       `masquerade random` (source ports randomised)
#     symmetric_fully_random `masquerade fully-random`
#   NAT_LAB_PUBLIC=A/L    the router's outside address (default 198.51.100.1/24)
#   NAT_LAB_STACKS=list   comma list of emulated client stacks, one per client,
#                         cycled (default linux). Per-namespace sysctls and the
#                         default route's metrics; SYNs come out as:
#     linux     ttl 64, mss 1460, sackOK, timestamps, wscale 7 (Linux defaults)
#     windows   ttl 128, no timestamps, mss 1460, sackOK, wscale 8, window 64240
#     bsd, mac  ttl 64, timestamps, mss 1380 (route advmss), wscale 6, window 65535
#     router255 ttl 255, no timestamps, no SACK, no window scaling, mss 1460
#   NAT_LAB_UPNP=1        run miniupnpd (miniupnpd-nftables, table inet
#                         natlab_upnp) on the router: UPnP IGD (SSDP, HTTP on
#                         192.0.2.1:5000) and NAT-PMP/PCP on the inside
#                         interface, secure_mode off, 192.0.2.0/24 allowed;
#                         client 1 serves HTTP on 192.0.2.11:8080. miniupnpd
#                         refuses a reserved external address (every
#                         documentation range is one) unless STUN proves it
#                         reachable, so it runs ext_perform_stun against
#                         stund: RFC 5389 Binding requests from PUBLIC_IP to
#                         203.0.113.10:3478 during `up` (before it returns).
#                         upnpc needs -i for the same reason ("Found a (not
#                         connected?) IGD": its external address is
#                         reserved). `traffic` then runs `upnpc -i -a
#                         192.0.2.11 8080 8080 TCP` in client 1 (SSDP
#                         M-SEARCH, SOAP AddPortMapping), curl
#                         http://PUBLIC_IP:8080/ from the server namespace
#                         (through the forward miniupnpd added), and `upnpc
#                         -d` (SOAP DeletePortMapping, no discovery).
#   NAT_LAB_ID=xxxxx      the lab id (default: random)
#
# lab.env (shell syntax; lists are double-quoted): LAB_ID, VARIANT, OUT_IF, IN_IF, SW_NS, ROUTER_NS, SRV_NS (stund and
# nginx on .10/.11), WEB_NS (nginx on .20), CLIENT_NS (space-separated, c1
# first), CLIENT_IPS, CLIENT_STACKS, ROUTER_IN_IP, PUBLIC_IP, PUBLIC_PREFIX,
# SERVER_IPS, STUN_PRIMARY, STUN_ALT (ADDR:PORT), UPNP.
#
# The STUN client is Debian's stun-client (Vovida 0.97, RFC 3489), the server
# stund from stun-server with `-h 203.0.113.10 -a 203.0.113.11` (ports 3478
# and 3479). On the wire (seen from the inside tap): the client binds a
# random port P and P+1; 28-byte Binding Requests (no magic cookie; the
# first transaction-ID byte is the test number, the other 15 fresh random
# bytes on every send; always a CHANGE-REQUEST attribute): test 1 from P to
# 203.0.113.10:3478 (flags 0), test 2 from P+1 to the same (change IP, 0x04),
# test 3 from P+1 to the same (change port, 0x02); once test 1 is answered,
# test 10 from P to CHANGED-ADDRESS's IP at port 3478 (flags 0) and test 11
# (hairpin) from P to its own MAPPED-ADDRESS. Unanswered tests are resent
# every ~170 ms (at most 8 sends each). Responses (88 bytes) carry
# MAPPED-ADDRESS, SOURCE-ADDRESS, CHANGED-ADDRESS, XOR-MAPPED-ADDRESS (type
# 0x0020, XORed with the first ID bytes) and SERVER-NAME "Vovida.org 0.97".
# The router answers filtered responses, and the hairpin tests, with ICMP
# port unreachable (rate-limited). restricted_cone and full_cone open UDP
# only; TCP stays port-restricted in every variant. Needs root, iproute2, nftables, nginx, curl, openssl, tcpdump,
# stun-client, stun-server (and miniupnpd-nftables, miniupnpc for UPnP):
# installed when missing. Documentation addresses only; nothing leaves the
# namespaces.
set -euo pipefail

cmd=${1:?usage: nat-lab.sh up|traffic|stun|upnp|down DIR}
dir=$(realpath -m "${2:?usage: nat-lab.sh up|traffic|stun|upnp|down DIR}")

SRV1=203.0.113.10 SRV2=203.0.113.11 WEB=203.0.113.20

need_tools() {
	local need=()
	for pair in nginx:nginx curl:curl openssl:openssl ip:iproute2 tc:iproute2 nft:nftables tcpdump:tcpdump stun:stun-client stund:stun-server; do
		command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
	done
	if [[ ${NAT_LAB_UPNP:-0} == 1 ]]; then
		for pair in miniupnpd:miniupnpd-nftables upnpc:miniupnpc python3:python3; do
			command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
		done
	fi
	if ((${#need[@]})); then
		apt-get -o DPkg::Lock::Timeout=600 update -q >&2
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${need[@]}" >&2
	fi
}

# stack NS PROFILE: sysctls of an emulated OS in namespace NS; prints the
# metrics for its default route
stack() {
	local ns=$1 p=$2
	case $p in
	linux)
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_default_ttl=64 net.ipv4.tcp_timestamps=1 \
			net.ipv4.tcp_sack=1 net.ipv4.tcp_window_scaling=1 "net.ipv4.tcp_rmem=4096 131072 6291456"
		echo ""
		;;
	windows)
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_default_ttl=128 net.ipv4.tcp_timestamps=0 \
			net.ipv4.tcp_sack=1 net.ipv4.tcp_window_scaling=1 "net.ipv4.tcp_rmem=4096 131072 8388608"
		echo ""
		;;
	bsd | mac | macos | freebsd)
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_default_ttl=64 net.ipv4.tcp_timestamps=1 \
			net.ipv4.tcp_sack=1 net.ipv4.tcp_window_scaling=1 "net.ipv4.tcp_rmem=4096 131072 2097152"
		echo "advmss 1380 window 2097152"
		;;
	router255)
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_default_ttl=255 net.ipv4.tcp_timestamps=0 \
			net.ipv4.tcp_sack=0 net.ipv4.tcp_window_scaling=0
		echo ""
		;;
	*)
		echo "nat-lab.sh: unknown stack $p (linux, windows, bsd, mac, router255)" >&2
		return 1
		;;
	esac
}

nat_rules() {
	local variant=$1 masq
	case $variant in
	port_restricted | restricted_cone | full_cone) masq=masquerade ;;
	symmetric_random) masq="masquerade random" ;;
	symmetric_fully_random) masq="masquerade fully-random" ;;
	*)
		echo "nat-lab.sh: unknown NAT_LAB_VARIANT $variant" >&2
		return 1
		;;
	esac
	cat <<NFT
table ip natlab {
	# mapped UDP port : the inside client that owns it
	map udpmap { type inet_service : ipv4_addr; flags dynamic,timeout; timeout 5m; }
	# mapped UDP port . remote address the client has sent to
	set contacted { type inet_service . ipv4_addr; flags dynamic,timeout; timeout 5m; }
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
$(case $variant in
	restricted_cone) echo '		iifname "eth1" udp dport . ip saddr @contacted dnat ip to udp dport map @udpmap' ;;
	full_cone) echo '		iifname "eth1" udp dport @udpmap dnat ip to udp dport map @udpmap' ;;
	esac)
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth1" $masq
	}
	# after the NAT: the packet carries its mapped port
	chain track {
		type filter hook postrouting priority srcnat + 10; policy accept;
$(case $variant in
	restricted_cone | full_cone)
		echo '		oifname "eth1" meta l4proto udp ct direction original update @udpmap { udp sport : ct original ip saddr }'
		echo '		oifname "eth1" meta l4proto udp ct direction original update @contacted { udp sport . ip daddr }'
		;;
	esac)
	}
}
NFT
}

# link NAME_A NS_A NAME_B NS_B: a veth pair created straight in its namespaces
link() {
	ip link add "$1" netns "$2" type veth peer name "$3" netns "$4"
}

up() {
	need_tools
	mkdir -p "$dir"
	local id=${NAT_LAB_ID:-}
	while [[ -z $id ]] || ip netns list | grep -qw "nl-nsw-$id"; do
		id=$(printf '%05x' $(((RANDOM << 8 ^ $$) & 0xfffff)))
	done
	local n=${NAT_LAB_CLIENTS:-2} variant=${NAT_LAB_VARIANT:-port_restricted}
	local public=${NAT_LAB_PUBLIC:-198.51.100.1/24}
	[[ $public == */* ]] || public=$public/24
	local pub_ip=${public%/*}
	((n >= 1 && n <= 200)) || {
		echo "nat-lab.sh: NAT_LAB_CLIENTS must be 1..200" >&2
		return 1
	}
	nat_rules "$variant" >/dev/null # an unknown variant fails before anything is built
	local sw=nl-nsw-$id rt=nl-rt-$id srv=nl-srv-$id web=nl-web-$id
	local out_if=nlout$id in_if=nlin$id
	local IFS_=$IFS
	IFS=, read -r -a stacks <<<"${NAT_LAB_STACKS:-linux}"
	IFS=$IFS_
	local st
	for st in "${stacks[@]}"; do
		case $st in
		linux | windows | bsd | mac | macos | freebsd | router255) ;;
		*)
			echo "nat-lab.sh: unknown stack $st (linux, windows, bsd, mac, router255)" >&2
			return 1
			;;
		esac
	done
	local clients=() cips=() cstacks=()
	for ((i = 1; i <= n; i++)); do
		clients+=("nl-c$i-$id")
		cips+=("192.0.2.$((10 + i))")
		cstacks+=("${stacks[$(((i - 1) % ${#stacks[@]}))]}")
	done
	cat >"$dir/lab.env" <<ENV
LAB_ID=$id
VARIANT=$variant
OUT_IF=$out_if
IN_IF=$in_if
SW_NS=$sw
ROUTER_NS=$rt
SRV_NS=$srv
WEB_NS=$web
CLIENT_NS="${clients[*]}"
CLIENT_IPS="${cips[*]}"
CLIENT_STACKS="${cstacks[*]}"
ROUTER_IN_IP=192.0.2.1
PUBLIC_IP=$pub_ip
PUBLIC_PREFIX=$public
SERVER_IPS="$SRV1 $SRV2 $WEB"
STUN_PRIMARY=$SRV1:3478
STUN_ALT=$SRV2:3479
UPNP=${NAT_LAB_UPNP:-0}
ENV
	local all=("$sw" "$rt" "$srv" "$web" "${clients[@]}")
	for ns in "${all[@]}"; do
		ip netns add "$ns"
		# IPv4 only: no router solicitations, MLD or DAD in the captures
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
		ip netns exec "$ns" ip link set lo up
	done
	ip -n "$sw" link add brin type bridge
	ip -n "$sw" link add brout type bridge
	ip -n "$sw" link set brin up
	ip -n "$sw" link set brout up
	local inside_ports=() outside_ports=()
	# clients
	for ((i = 0; i < n; i++)); do
		local ns=${clients[$i]} k=$((i + 1))
		link eth0 "$ns" "pc$k" "$sw"
		ip -n "$ns" link set eth0 address "$(printf '02:00:00:00:01:%02x' "$k")"
		ip -n "$ns" addr add "${cips[$i]}/24" dev eth0
		ip -n "$ns" link set eth0 up
		local metrics
		metrics=$(stack "$ns" "${cstacks[$i]}")
		# shellcheck disable=SC2086
		ip -n "$ns" route add default via 192.0.2.1 dev eth0 $metrics
		# the inside subnet too, so the emulated stack shapes every SYN
		# shellcheck disable=SC2086
		[[ -z $metrics ]] || ip -n "$ns" route replace 192.0.2.0/24 dev eth0 proto kernel scope link src "${cips[$i]}" $metrics
		ip -n "$sw" link set "pc$k" master brin up
		inside_ports+=("pc$k")
	done
	# router
	link eth0 "$rt" pri "$sw"
	link eth1 "$rt" pro "$sw"
	ip -n "$rt" link set eth0 address 02:00:00:00:00:01
	ip -n "$rt" link set eth1 address 02:00:00:00:00:02
	ip -n "$rt" addr add 192.0.2.1/24 dev eth0
	ip -n "$rt" addr add "$public" dev eth1
	ip -n "$rt" link set eth0 up
	ip -n "$rt" link set eth1 up
	ip -n "$rt" route add 203.0.113.0/24 dev eth1
	ip netns exec "$rt" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	ip -n "$sw" link set pri master brin up
	ip -n "$sw" link set pro master brout up
	inside_ports+=(pri)
	outside_ports+=(pro)
	nat_rules "$variant" >"$dir/nat.nft"
	ip netns exec "$rt" nft -f "$dir/nat.nft"
	# servers, on the outside segment
	link eth0 "$srv" psrv "$sw"
	link eth0 "$web" pweb "$sw"
	ip -n "$srv" link set eth0 address 02:00:00:00:02:0a
	ip -n "$web" link set eth0 address 02:00:00:00:02:14
	ip -n "$srv" addr add "$SRV1/24" dev eth0
	ip -n "$srv" addr add "$SRV2/24" dev eth0
	ip -n "$web" addr add "$WEB/24" dev eth0
	for ns in "$srv" "$web"; do
		ip -n "$ns" link set eth0 up
		ip -n "$ns" route add "$pub_ip/32" dev eth0
	done
	ip -n "$sw" link set psrv master brout up
	ip -n "$sw" link set pweb master brout up
	outside_ports+=(psrv pweb)
	# the taps: one end in the switch, the other the sensor's interface
	ip link add "$out_if" type veth peer name mo netns "$sw"
	ip link add "$in_if" type veth peer name mi netns "$sw"
	for ifc in "$out_if" "$in_if"; do
		sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=1"
		ip link set "$ifc" up
	done
	ip -n "$sw" link set mo up
	ip -n "$sw" link set mi up
	local port
	for port in "${inside_ports[@]}" "${outside_ports[@]}"; do
		local to=mi
		[[ " ${outside_ports[*]} " == *" $port "* ]] && to=mo
		ip netns exec "$sw" tc qdisc add dev "$port" ingress
		ip netns exec "$sw" tc filter add dev "$port" parent ffff: protocol all u32 match u8 0 0 \
			action mirred egress mirror dev "$to"
	done

	# servers: nginx on .10/.11 and on .20, stund on .10/.11
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$dir/key.pem" -out "$dir/cert.pem" -days 30 \
		-subj "/CN=www.example.com" -addext "subjectAltName=DNS:www.example.com" 2>/dev/null
	mkdir -p "$dir/www" "$dir/tmp"
	printf '<!doctype html><title>www.example.com</title><p>nunchi nat lab</p>\n' >"$dir/www/index.html"
	chmod -R a+rX "$dir"
	chmod a+x "$dir"
	local name listen
	for name in srv web; do
		if [[ $name == srv ]]; then
			listen="listen $SRV1:80; listen $SRV2:80;"
		else
			listen="listen $WEB:80;"
		fi
		cat >"$dir/nginx-$name.conf" <<NGINX
user www-data;
daemon on;
worker_processes 1;
pid $dir/nginx-$name.pid;
error_log $dir/nginx-$name-error.log;
events { worker_connections 64; }
http {
	access_log $dir/nginx-$name-access.log;
	client_body_temp_path $dir/tmp/$name-body;
	proxy_temp_path $dir/tmp/$name-proxy;
	fastcgi_temp_path $dir/tmp/$name-fastcgi;
	uwsgi_temp_path $dir/tmp/$name-uwsgi;
	scgi_temp_path $dir/tmp/$name-scgi;
	default_type text/html;
	server_tokens off;
	keepalive_timeout 5;
	server {
		$listen
		server_name www.example.com;
		root $dir/www;
	}
$( [[ $name == srv ]] && cat <<TLS
	server {
		listen $SRV1:443 ssl;
		server_name www.example.com;
		ssl_certificate $dir/cert.pem;
		ssl_certificate_key $dir/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		root $dir/www;
	}
TLS
)
}
NGINX
	done
	ip netns exec "$srv" nginx -c "$dir/nginx-srv.conf" -p "$dir"
	ip netns exec "$web" nginx -c "$dir/nginx-web.conf" -p "$dir"
	# stund: primary 203.0.113.10:3478, alternate 203.0.113.11:3479
	ip netns exec "$srv" setsid stund -h "$SRV1" -a "$SRV2" </dev/null >"$dir/stund.log" 2>&1 &
	echo $! >"$dir/stund.pid"
	if [[ ${NAT_LAB_UPNP:-0} == 1 ]]; then
		upnp_up "$rt" "$id" "${clients[0]}"
	fi
	for _ in $(seq 100); do
		if [[ -s $dir/nginx-srv.pid && -s $dir/nginx-web.pid ]] &&
			ip netns exec "$srv" ss -Htln | grep -q "$SRV1:443" &&
			ip netns exec "$web" ss -Htln | grep -q "$WEB:80" &&
			ip netns exec "$srv" ss -Huln | grep -q "$SRV2:3479" &&
			{ [[ ${NAT_LAB_UPNP:-0} != 1 ]] || ip netns exec "$rt" ss -Htln | grep -q ":5000 "; }; then
			# neighbours resolved before any test capture starts
			for ns in "${clients[@]}"; do
				ip netns exec "$ns" ping -c1 -W2 192.0.2.1 >/dev/null
			done
			ip netns exec "$rt" ping -c1 -W2 "$SRV1" >/dev/null
			ip netns exec "$rt" ping -c1 -W2 "$WEB" >/dev/null
			return 0
		fi
		sleep 0.1
	done
	echo "nat-lab.sh: servers did not start" >&2
	return 1
}

# upnp_up ROUTER_NS PUBLIC_IP CLIENT1_NS: miniupnpd on the router; a web
# server on 8080 in client 1 as the forwarded service
upnp_up() {
	local rt=$1 id=$2 c1=$3
	# the chains miniupnpd fills (Debian's nft_init.sh sources a helper it does not ship)
	cat >"$dir/upnp.nft" <<'NFT'
table inet natlab_upnp {
	chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
	chain miniupnpd { }
	chain prerouting { type nat hook prerouting priority dstnat - 5; policy accept; jump prerouting_miniupnpd; }
	chain postrouting { type nat hook postrouting priority srcnat - 5; policy accept; jump postrouting_miniupnpd; }
	chain prerouting_miniupnpd { }
	chain postrouting_miniupnpd { }
}
NFT
	ip netns exec "$rt" nft -f "$dir/upnp.nft"
	cat >"$dir/miniupnpd.conf" <<CONF
ext_ifname=eth1
listening_ip=eth0
port=5000
enable_upnp=yes
enable_natpmp=yes
secure_mode=no
system_uptime=yes
notify_interval=600
clean_ruleset_interval=0
uuid=3f1a2b4c-0000-4000-8000-0000000$id
upnp_table_name=natlab_upnp
upnp_nat_table_name=natlab_upnp
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
lease_file=$dir/upnp.leases
ext_perform_stun=yes
ext_stun_host=$SRV1
ext_stun_port=3478
allow 1024-65535 192.0.2.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
	ip netns exec "$rt" setsid miniupnpd -f "$dir/miniupnpd.conf" -d -P "$dir/miniupnpd.pid" </dev/null >"$dir/miniupnpd.log" 2>&1 &
	echo $! >"$dir/miniupnpd.pid.0"
	# the forwarded service in client 1
	mkdir -p "$dir/www8080"
	echo "nat-lab upnp ok" >"$dir/www8080/index.html"
	ip netns exec "$c1" setsid python3 -m http.server 8080 --bind 192.0.2.11 --directory "$dir/www8080" </dev/null >"$dir/http8080.log" 2>&1 &
	echo $! >"$dir/http8080.pid"
}

load() {
	[[ -f $dir/lab.env ]] || {
		echo "nat-lab.sh: no $dir/lab.env (run up first)" >&2
		exit 1
	}
	# shellcheck disable=SC1091
	source "$dir/lab.env"
	read -r -a CLIENTS <<<"$CLIENT_NS"
}

stun_run() {
	local k=${1:-1}
	local ns=${CLIENTS[$((k - 1))]}
	# -v prints every test; the last lines hold the verdict. stun exits
	# with the NAT type's code, not 0.
	ip netns exec "$ns" stun "${STUN_PRIMARY%:*}" -v >"$dir/stun.out" 2>&1 || true
	cat "$dir/stun.out" >&2
}

upnp_run() {
	local c1=${CLIENTS[0]}
	{
		echo "# upnpc -i -a 192.0.2.11 8080 8080 TCP"
		ip netns exec "$c1" upnpc -i -m eth0 -e nat-lab -a 192.0.2.11 8080 8080 TCP 2>&1 || true
		echo "# inbound: curl http://$PUBLIC_IP:8080/ from $SRV_NS"
		ip netns exec "$SRV_NS" curl -sS -m 5 "http://$PUBLIC_IP:8080/" 2>&1 || true
		echo "# upnpc -i -u http://192.0.2.1:5000/rootDesc.xml -d 8080 TCP"
		ip netns exec "$c1" upnpc -i -u http://192.0.2.1:5000/rootDesc.xml -d 8080 TCP 2>&1 || true
	} >"$dir/upnp.out"
	cat "$dir/upnp.out" >&2
}

traffic() {
	local ns k=0
	for ns in "${CLIENTS[@]}"; do
		k=$((k + 1))
		for _ in 1 2 3; do
			ip netns exec "$ns" curl -sS -m 5 --http1.1 -o /dev/null "http://$SRV1/"
			ip netns exec "$ns" curl -sS -m 5 --http1.1 -o /dev/null "http://$WEB/"
		done
		ip netns exec "$ns" curl -sS -m 5 --http1.1 -k --resolve "www.example.com:443:$SRV1" -o /dev/null https://www.example.com/
		sleep 0.1
	done
	stun_run 1
	if [[ ${UPNP:-0} == 1 ]]; then
		upnp_run
	fi
}

down() {
	[[ -f $dir/lab.env ]] || return 0
	# shellcheck disable=SC1091
	source "$dir/lab.env"
	set +e
	local f ns
	for f in "$dir"/*.pid "$dir"/*.pid.0; do
		[[ -s $f ]] && kill "$(cat "$f")" 2>/dev/null
	done
	local all=("$SW_NS" "$ROUTER_NS" "$SRV_NS" "$WEB_NS")
	read -r -a clients <<<"$CLIENT_NS"
	all+=("${clients[@]}")
	for ns in "${all[@]}"; do
		if ip netns list | grep -qw "$ns"; then
			for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
		fi
	done
	sleep 0.2
	for ns in "${all[@]}"; do
		if ip netns list | grep -qw "$ns"; then
			for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
			ip netns del "$ns" 2>/dev/null
		fi
	done
	# shellcheck disable=SC2153 # OUT_IF and IN_IF come from lab.env
	{
		ip link del "$OUT_IF"
		ip link del "$IN_IF"
	} 2>/dev/null
	rm -rf "$dir"
	return 0
}

case $cmd in
up) up ;;
traffic)
	load
	traffic
	;;
stun)
	load
	stun_run "${3:-1}"
	;;
upnp)
	load
	upnp_run
	;;
down) down ;;
*)
	echo "usage: nat-lab.sh up|traffic|stun|upnp|down DIR" >&2
	exit 2
	;;
esac
