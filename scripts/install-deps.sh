#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only those missing:
# real clients and servers for the live-capture lab (nginx, dnsmasq, curl,
# dig, openssl, ping), tcpdump (the reference capture, and the BPF compiler
# of the default build), libpcap-dev (the -tags libpcap build), iproute2,
# chromium (the HTML report's rendering test), and the VPN/proxy/scan tools
# the anomaly tests run (nmap, hping3, openvpn, ssh, xl2tpd, pptp, strongSwan),
# and the NAT lab's router and its RFC 3489 ground truth (nftables, stund and
# the stun client, miniupnpd with the nftables backend, upnpc).
# The Kafka and ClickHouse servers are deploy/dev/services.sh's business.
set -euo pipefail

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pair in tcpdump:tcpdump nginx:nginx dnsmasq:dnsmasq curl:curl dig:dnsutils openssl:openssl ip:iproute2 tc:iproute2 ping:iputils-ping; do
	have_cmd "${pair%%:*}" || need+=("${pair##*:}")
done
have_pkg libpcap-dev || need+=(libpcap-dev)
have_cmd chromium || need+=(chromium) # the HTML report is checked in headless Chromium
# Real circumvention and scanning tools for the anomaly tests in namespaces.
for pair in nmap:nmap openvpn:openvpn hping3:hping3 ssh:openssh-client xl2tpd:xl2tpd pptp:pptp-linux swanctl:strongswan-swanctl; do
	have_cmd "${pair%%:*}" || need+=("${pair##*:}")
done
# The NAT lab (testdata/netns/nat-lab.sh).
for pair in nft:nftables stun:stun-client stund:stun-server miniupnpd:miniupnpd-nftables upnpc:miniupnpc; do
	have_cmd "${pair%%:*}" || need+=("${pair##*:}")
done
[[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
[[ -x /usr/lib/ipsec/charon ]] || need+=(strongswan-charon)
if ((${#need[@]})); then
	echo "installing: ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update -q >&2
	apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${need[@]}" >&2
fi
# Debian starts the servers it installs; the tests run their own copies.
for svc in nginx dnsmasq ssh openvpn strongswan-starter xl2tpd stun miniupnpd; do
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q "$svc" 2>/dev/null; then
		systemctl stop "$svc" || true
	fi
done
