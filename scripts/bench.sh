#!/usr/bin/env bash
# `make bench`: nunchi against Suricata on the same benchgen capture (issue 10).
#
# What it does, in order:
#   1. generates the benchgen pcaps (seed 1) with their truth files in $NUNCHI_BENCH_DIR if missing:
#      the 1.5 GB one the goals name and a 200 MB one for quick runs;
#   2. builds nunchi and the bench helper (internal/tools/benchtool) into a temporary directory;
#   3. installs Suricata from Debian if missing: 7.0.10 from bookworm-backports when that source is
#      reachable (added to apt's sources only when no configured source has it), else bookworm's;
#   4. writes the comparison inputs: a 1 M-name rules file (benchgen's blocklist + filler names that
#      never occur in the traffic), the same names as a Suricata string dataset, a Suricata config
#      (eve http/tls/dns/quic + alert, memcaps raised so its output is complete) and three rules
#      matching dns.query / tls.sni / http.host against the dataset;
#   5. runs, per round, nunchi --shards 2 (A), Suricata --runmode single (B), nunchi --shards 1 (A'),
#      each under /usr/bin/time (wall, user+sys CPU, peak RSS); both start-ups once on a 1 MB pcap;
#   6. prints event counts against the truth file (first round of each), the per-tool figures
#      (median and min–max over the rounds), the per-round ratio of packets per CPU-second, the
#      2-shard rate against the 1.73 M pkts/s goal, and allocations per packet from BenchmarkReplay.
#
# Environment:
#   NUNCHI_BENCH_QUICK=1        use the 200 MB pcap (default: the 1.5 GB one)
#   NUNCHI_BENCH_SIZE_MB=N      any other benchgen size (overrides QUICK)
#   NUNCHI_BENCH_PAIRS=N        rounds (default 3, at least 1)
#   NUNCHI_BENCH_DIR=DIR        where pcaps are generated and kept (default /tmp/nunchi-bench;
#                               never inside the repository)
#   NUNCHI_BENCH_SKIP_GOBENCH=1 skip the go test BenchmarkReplay run (allocations per packet)
#   NUNCHI_BENCH_REV=REV        build nunchi (and run BenchmarkReplay) from a committed revision,
#                               e.g. HEAD, exported with git archive (default: the working tree)
#   NUNCHI_BENCH_KEEP=1         keep the run's temporary directory (events, eve.json, configs)
#
# Everything else it writes goes to a mktemp directory under /tmp, removed on exit.
set -euo pipefail

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "== $*"; }

REPO=$(cd "$(dirname "$0")/.." && pwd)
DIR=${NUNCHI_BENCH_DIR:-/tmp/nunchi-bench}
PAIRS=${NUNCHI_BENCH_PAIRS:-3}
if [[ -n "${NUNCHI_BENCH_SIZE_MB:-}" ]]; then
	SIZE_MB=$NUNCHI_BENCH_SIZE_MB
elif [[ "${NUNCHI_BENCH_QUICK:-0}" == 1 ]]; then
	SIZE_MB=200
else
	SIZE_MB=1500
fi
[[ "$PAIRS" =~ ^[1-9][0-9]*$ ]] || die "NUNCHI_BENCH_PAIRS must be a positive integer, got '$PAIRS'"
[[ "$SIZE_MB" =~ ^[1-9][0-9]*$ ]] || die "NUNCHI_BENCH_SIZE_MB must be a positive integer, got '$SIZE_MB'"
DIR=$(realpath -m "$DIR")
case "$DIR/" in "$(realpath "$REPO")/"*) die "NUNCHI_BENCH_DIR ($DIR) is inside the repository; use /tmp" ;; esac
mkdir -p "$DIR" || die "cannot create $DIR"
GEN_SRC="$REPO/../shared/tools/benchgen"
GOAL_PPS=1730000

WORK=$(mktemp -d /tmp/nunchi-bench-run.XXXXXX)
cleanup() {
	if [[ "${NUNCHI_BENCH_KEEP:-0}" == 1 ]]; then
		echo "bench: kept $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

for tool in go apt-cache; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

# --- 1. pcaps ---------------------------------------------------------------
benchgen_bin() {
	if [[ ! -x "$WORK/benchgen" ]]; then
		[[ -d "$GEN_SRC" ]] || die "benchgen sources not found at $GEN_SRC"
		(cd "$GEN_SRC" && go build -o "$WORK/benchgen" .) || die "building benchgen failed"
	fi
	echo "$WORK/benchgen"
}
# pcap SIZE_MB: path of the benchgen capture of that size, generated if missing.
pcap() {
	local out="$DIR/bench-$1.pcap"
	if [[ ! -s "$out" || ! -s "$out.truth.json" || ! -s "$out.blocklist.txt" ]]; then
		local gen
		gen=$(benchgen_bin)
		echo "bench: generating $out (benchgen -size-mb $1 -seed 1)" >&2
		"$gen" -o "$out.part" -size-mb "$1" -seed 1 >&2 || { rm -f "$out.part"*; die "benchgen failed"; }
		for side in truth.json flows.csv blocklist.txt; do
			mv -f "$out.part.$side" "$out.$side"
		done
		mv -f "$out.part" "$out"
	fi
	echo "$out"
}

say "captures ($DIR)"
PCAP=$(pcap "$SIZE_MB")
pcap 200 >/dev/null         # the quick one, kept for NUNCHI_BENCH_QUICK=1 and BenchmarkReplay
TINY=$(pcap 1)              # start-up cost of each tool
TRUTH="$PCAP.truth.json"
PACKETS=$(sed -n 's/^ *"Packets": *\([0-9]*\).*/\1/p' "$TRUTH")
TINY_PACKETS=$(sed -n 's/^ *"Packets": *\([0-9]*\).*/\1/p' "$TINY.truth.json")
[[ -n "$PACKETS" && -n "$TINY_PACKETS" ]] || die "no Packets count in $TRUTH"
echo "$PCAP: $(du -h "$PCAP" | cut -f1), $PACKETS packets"

# --- 2. binaries ------------------------------------------------------------
SRC=$REPO
if [[ -n "${NUNCHI_BENCH_REV:-}" ]]; then
	# A committed revision, exported (read-only for the repository) into the temp directory.
	SRC="$WORK/src"
	mkdir -p "$SRC"
	git -C "$REPO" archive --format=tar "$NUNCHI_BENCH_REV" | tar -x -C "$SRC" || die "git archive $NUNCHI_BENCH_REV failed"
	say "build (revision $(git -C "$REPO" rev-parse --short "$NUNCHI_BENCH_REV"))"
else
	say "build (working tree)"
fi
(cd "$SRC" && go build -o "$WORK/nunchi" ./cmd/nunchi) || die "building nunchi failed (NUNCHI_BENCH_REV=HEAD builds the last commit)"
(cd "$REPO" && go build -o "$WORK/benchtool" ./internal/tools/benchtool) || die "building benchtool failed"
NUNCHI="$WORK/nunchi"
BT="$WORK/benchtool"

# --- 3. Suricata and /usr/bin/time -----------------------------------------
APT=(apt-get -o DPkg::Lock::Timeout=600)
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }
candidate() { apt-cache policy suricata 2>/dev/null | sed -n 's/^ *Candidate: *//p'; }
install_suricata() {
	say "installing Suricata (Debian)"
	as_root "${APT[@]}" update -qq || true
	local added=""
	if ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		added=/etc/apt/sources.list.d/nunchi-bench-backports.list
		echo "bench: adding bookworm-backports for Suricata 7 ($added)"
		echo 'deb http://deb.debian.org/debian bookworm-backports main' | as_root tee "$added" >/dev/null
		as_root "${APT[@]}" update -qq || true
	fi
	if apt-cache policy suricata | grep -q 'bookworm-backports'; then
		as_root env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y -q -t bookworm-backports suricata
	else
		if [[ -n "$added" ]]; then
			echo "bench: bookworm-backports not reachable; falling back to bookworm's Suricata" >&2
			as_root rm -f "$added"
			as_root "${APT[@]}" update -qq || true
		fi
		[[ -n "$(candidate)" && "$(candidate)" != "(none)" ]] || die "no Suricata package in the configured Debian sources"
		as_root env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y -q suricata
	fi
}
command -v suricata >/dev/null || install_suricata
command -v suricata >/dev/null || die "Suricata is not installed"
if [[ ! -x /usr/bin/time ]]; then
	as_root env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y -q time || die "installing /usr/bin/time failed"
fi
SURI_VERSION=$(suricata -V 2>/dev/null | sed -n 's/.*version \([^ ]*\).*/\1/p')
echo "Suricata $SURI_VERSION; $("$NUNCHI" version)"

# --- 4. rules, dataset, Suricata config ---------------------------------------
say "rules: benchgen blocklist + filler names = 1,000,000 names"
RULES="$WORK/rules-1m.txt"
BLOCKLIST="$PCAP.blocklist.txt"
nblock=$(grep -c . "$BLOCKLIST")
((nblock < 1000000)) || die "$BLOCKLIST has $nblock names"
{
	cat "$BLOCKLIST"
	seq -f 'filler%07g.nunchi-bench.invalid' 1 $((1000000 - nblock))
} >"$RULES"
DATASET="$WORK/blocked.dataset"
"$BT" dataset "$RULES" "$DATASET"

SURI_DIR="$WORK/suricata"
mkdir -p "$SURI_DIR/log"
cat >"$SURI_DIR/bench.rules" <<EOF
alert dns any any -> any any (msg:"nunchi-bench blocked dns.query"; dns.query; dataset:isset,nunchi-blocked,type string,load $DATASET,memcap 1gb,hashsize 2097152; sid:1; rev:1;)
alert tls any any -> any any (msg:"nunchi-bench blocked tls.sni"; tls.sni; dataset:isset,nunchi-blocked,type string,load $DATASET,memcap 1gb,hashsize 2097152; sid:2; rev:1;)
alert http any any -> any any (msg:"nunchi-bench blocked http.host"; http.host; dataset:isset,nunchi-blocked,type string,load $DATASET,memcap 1gb,hashsize 2097152; sid:3; rev:1;)
EOF
cat >"$SURI_DIR/suricata.yaml" <<EOF
%YAML 1.1
---
# Written by nunchi's scripts/bench.sh for the side-by-side benchmark.
vars:
  address-groups:
    HOME_NET: "[10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7]"
    EXTERNAL_NET: "any"
  port-groups:
    HTTP_PORTS: "80"
    DNS_PORTS: "53"
default-log-dir: $SURI_DIR/log
default-rule-path: $SURI_DIR
rule-files: [bench.rules]
outputs:
  - eve-log:
      enabled: yes
      filetype: regular
      filename: eve.json
      types:
        - alert
        - http
        - dns
        - tls:
            extended: yes
        - quic
logging:
  default-log-level: notice
  outputs:
    - console:
        enabled: yes
app-layer:
  protocols:
    tls:
      enabled: yes
      detection-ports:
        dp: 443
    http:
      enabled: yes
    dns:
      tcp:
        enabled: yes
        detection-ports:
          dp: 53
      udp:
        enabled: yes
        detection-ports:
          dp: 53
    quic:
      enabled: yes
    ssh:
      enabled: yes
datasets:
  defaults:
    memcap: 1gb
    hashsize: 2097152
  limits:
    single-hashsize: 4194304
    total-hashsizes: 4194304
flow:
  memcap: 2gb
  hash-size: 1048576
  prealloc: 100000
stream:
  memcap: 2gb
  checksum-validation: no
  midstream: true
  reassembly:
    memcap: 4gb
    depth: 1mb
defrag:
  memcap: 512mb
host:
  memcap: 256mb
EOF
suricata -c "$SURI_DIR/suricata.yaml" -T -l "$SURI_DIR/log" >"$WORK/suricata-T.log" 2>&1 ||
	{ cat "$WORK/suricata-T.log" >&2; die "Suricata rejected its config"; }

# --- 5. runs ------------------------------------------------------------------
RESULTS="$WORK/results.tsv"
echo "round tool packets wall_s user_s sys_s maxrss_kb" >"$RESULTS"
# timed ROUND TOOL PACKETS CMD...: run CMD under /usr/bin/time, append a row.
timed() {
	local round=$1 tool=$2 packets=$3
	shift 3
	if ! /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" >"$WORK/run.log" 2>&1; then
		tail -20 "$WORK/run.log" >&2
		die "$tool (round $round) failed: $*"
	fi
	echo "$round $tool $packets $(cat "$WORK/time")" >>"$RESULTS"
	read -r wall user sys rss <"$WORK/time"
	printf '  round %s %-10s wall %6ss  cpu %6ss  rss %5s MB\n' "$round" "$tool" "$wall" \
		"$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.2f", u+s}')" $((rss / 1024))
}
# nunchi reads NUNCHI_* variables as config keys (and rejects unknown ones, such as this script's):
# the runs get none, so both tools run on defaults plus the flags given here.
NUNCHI_ENV=(env)
while read -r v; do NUNCHI_ENV+=(-u "$v"); done < <(compgen -e | grep '^NUNCHI_' || true)
run_nunchi() { # ROUND SHARDS PCAP PACKETS TOOL
	rm -f "$WORK/events.jsonl"
	timed "$1" "$5" "$4" "${NUNCHI_ENV[@]}" "$NUNCHI" replay --shards "$2" --rules "$RULES" -o "$WORK/events.jsonl" --progress never "$3"
}
run_suricata() { # ROUND PCAP PACKETS TOOL
	rm -f "$SURI_DIR/log/eve.json"
	timed "$1" "$4" "$3" suricata -c "$SURI_DIR/suricata.yaml" --runmode single -k none -l "$SURI_DIR/log" -r "$2"
}

say "start-up cost (1 MB pcap, $TINY_PACKETS packets, incl. loading 1 M names)"
run_nunchi 0 2 "$TINY" "$TINY_PACKETS" startup-nunchi
run_suricata 0 "$TINY" "$TINY_PACKETS" startup-suri

say "$PAIRS rounds on $(basename "$PCAP"): nunchi --shards 2 (A), Suricata --runmode single (B), nunchi --shards 1 (A')"
for ((r = 1; r <= PAIRS; r++)); do
	run_nunchi "$r" 2 "$PCAP" "$PACKETS" nunchi-s2
	[[ $r == 1 ]] && cp "$WORK/events.jsonl" "$WORK/events-s2.jsonl"
	run_suricata "$r" "$PCAP" "$PACKETS" suricata
	[[ $r == 1 ]] && cp "$SURI_DIR/log/eve.json" "$WORK/eve-1.json"
	run_nunchi "$r" 1 "$PCAP" "$PACKETS" nunchi-s1
done

# --- 6. report ----------------------------------------------------------------
say "event counts vs truth ($(basename "$TRUTH"), round 1)"
echo "  nunchi --shards 2: $("$BT" count -format nunchi -truth "$TRUTH" "$WORK/events-s2.jsonl")"
echo "  nunchi --shards 1: $("$BT" count -format nunchi -truth "$TRUTH" "$WORK/events.jsonl") (last round)"
echo "  suricata $SURI_VERSION: $("$BT" count -format eve -truth "$TRUTH" "$WORK/eve-1.json")"
echo "  (Suricata 7 has no quic.sni rule keyword: no QUIC block alerts; eve alerts and retransmitted"
echo "   DNS queries are counted once per flow, as the truth counts them)"

say "figures (process wall time and user+sys CPU, start-up included; $PACKETS packets; 2-core shared VM: compare within a round)"
"$BT" summary "$RESULTS"
awk -v goal=$GOAL_PPS '$2 ~ /^nunchi-s[12]$/ { n[$2]++; v[$2, n[$2]] = $3 / $4 }
	END { for (t in n) { m = 0; for (i = 1; i <= n[t]; i++) if (v[t, i] > m) m = v[t, i]
		printf "  %s best %.2fM pkts/s = %.0f%% of the 1.73 M pkts/s goal (10 GbE line rate of this mix)\n", t, m / 1e6, 100 * m / goal } }' "$RESULTS" | sort

if [[ "${NUNCHI_BENCH_SKIP_GOBENCH:-0}" != 1 ]]; then
	say "allocations per packet: go test -run '^\$' -bench BenchmarkReplay -benchtime 3x ./pipeline/ (NUNCHI_BENCH_PCAP=$PCAP)"
	(cd "$SRC" && NUNCHI_BENCH_PCAP="$PCAP" go test -run '^$' -bench BenchmarkReplay -benchtime 3x ./pipeline/) >"$WORK/gobench.log" 2>&1 ||
		{ cat "$WORK/gobench.log" >&2; die "BenchmarkReplay failed"; }
	grep -E '^Benchmark' "$WORK/gobench.log" | sed 's/^/  /'
fi
