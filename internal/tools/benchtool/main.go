// Command benchtool is the Go half of scripts/bench.sh (`make bench`): the
// parts of the sensor-versus-Suricata comparison that are awkward in a
// shell script. It is a developer tool, not part of the sensor.
//
//	benchtool dataset NAMES OUT          Suricata string dataset (base64 per line) from a name list
//	benchtool count -format nunchi|eve -truth TRUTH EVENTS
//	                                      event counts of one run as "key=value" words, against the truth
//	benchtool summary RESULTS.tsv         medians, min–max and ratios of the A/B rounds
//
// count reads nunchi's JSON lines or Suricata's eve.json and counts what
// benchgen's truth file counts: TLS ClientHellos with SNI, HTTP requests,
// DNS queries, QUIC connections with an SNI, and blocked names per surface
// (nunchi block events; Suricata alerts of the bench rules, sid 1 = dns.query,
// 2 = tls.sni, 3 = http.host; counted once per flow and signature, as
// the truth counts blocked flows; a retransmitted DNS query, which eve logs
// again, counts once). It prints one line, each count followed by
// the truth's figure when they differ, and exits 0 either way: a gap in the
// output is a finding to print, not a reason to stop the benchmark.
//
// summary reads the rows that bench.sh appends, one per process run:
//
//	round  tool  packets  wall_s  user_s  sys_s  maxrss_kb
//
// and prints, per tool, packets/s and packets per CPU-second (median and
// min–max over the rounds), peak RSS, and the per-round ratio of nunchi's
// packets per CPU-second to Suricata's (median and min–max): ratios are
// taken within a round because the machine is shared and noisy. Rows of
// tools "startup-nunchi" and "startup-suri" (a tiny pcap) give each tool's
// fixed cost; the same figures are printed again net of it.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "dataset":
		err = dataset(os.Args[2:])
	case "count":
		err = count(os.Args[2:])
	case "summary":
		err = summary(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchtool dataset NAMES OUT | count -format nunchi|eve -truth TRUTH EVENTS | summary RESULTS.tsv")
	os.Exit(2)
}

// dataset writes a Suricata "type string" dataset file: each non-empty,
// non-comment line of names, lower-cased, base64-encoded on a line.
func dataset(args []string) error {
	if len(args) != 2 {
		return errors.New("dataset NAMES OUT")
	}
	in, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(args[1])
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	sc := bufio.NewScanner(in)
	var buf []byte
	n := 0
	for sc.Scan() {
		name := strings.ToLower(strings.TrimSpace(sc.Text()))
		if name == "" || name[0] == '#' {
			continue
		}
		buf = base64.StdEncoding.AppendEncode(buf[:0], []byte(name))
		buf = append(buf, '\n')
		w.Write(buf)
		n++
	}
	if err := sc.Err(); err != nil {
		out.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return err
	}
	if n == 0 {
		out.Close()
		return fmt.Errorf("%s: no names", args[0])
	}
	return out.Close()
}

// truth is the part of benchgen's truth.json that the events are checked
// against.
type truth struct {
	Packets      uint64
	TLSWithSNI   int
	HTTPRequests int
	DNSQueries   int
	QUICWithSNI  int
	BlockedTLS   int
	BlockedHTTP  int
	BlockedQUIC  int
	BlockedDNS   int
}

func readTruth(path string) (truth, error) {
	var t truth
	b, err := os.ReadFile(path)
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// event holds the fields of a nunchi event or a Suricata eve record that
// count looks at.
type event struct {
	EventType string `json:"event_type"`
	FlowID    uint64 `json:"flow_id"`
	TLS       *struct {
		SNI string `json:"sni"`
	} `json:"tls"`
	QUIC *struct {
		SNI string `json:"sni"`
	} `json:"quic"`
	DNS *struct {
		Type   string `json:"type"`
		ID     int    `json:"id"`
		RRName string `json:"rrname"`
	} `json:"dns"`
	Block *struct {
		Surface string `json:"surface"`
	} `json:"block"`
	Alert *struct {
		SignatureID int `json:"signature_id"`
	} `json:"alert"`
}

type counts struct {
	events                   int
	tlsSNI, http, dnsQuery   int
	quicSNI                  int
	blkTLS, blkHTTP, blkQUIC int
	blkDNS                   int
	quicFlows                map[uint64]bool
	seen                     map[string]bool // eve: DNS queries and alerts once per flow
}

func count(args []string) error {
	fs := flag.NewFlagSet("count", flag.ContinueOnError)
	format := fs.String("format", "nunchi", "nunchi (JSON lines) or eve (Suricata eve.json)")
	truthPath := fs.String("truth", "", "benchgen truth.json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *truthPath == "" || (*format != "nunchi" && *format != "eve") {
		return errors.New("count -format nunchi|eve -truth TRUTH EVENTS")
	}
	tr, err := readTruth(*truthPath)
	if err != nil {
		return err
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	c := counts{quicFlows: map[uint64]bool{}, seen: map[string]bool{}}
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: read the rest of it.
			rest, err2 := r.ReadBytes('\n')
			line = append(append([]byte(nil), line...), rest...)
			err = err2
		}
		if len(line) > 1 {
			var e event
			if jerr := json.Unmarshal(line, &e); jerr != nil {
				return fmt.Errorf("%s: %w", fs.Arg(0), jerr)
			}
			c.add(&e, *format == "eve")
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	c.quicSNI = len(c.quicFlows)
	field := func(name string, got, want int) string {
		if got == want {
			return fmt.Sprintf("%s=%d", name, got)
		}
		return fmt.Sprintf("%s=%d(truth:%d)", name, got, want)
	}
	words := []string{
		fmt.Sprintf("events=%d", c.events),
		field("tls_sni", c.tlsSNI, tr.TLSWithSNI),
		field("http", c.http, tr.HTTPRequests),
		field("dns_query", c.dnsQuery, tr.DNSQueries),
		field("quic_sni", c.quicSNI, tr.QUICWithSNI),
		field("blocked_tls", c.blkTLS, tr.BlockedTLS),
		field("blocked_http", c.blkHTTP, tr.BlockedHTTP),
		field("blocked_dns", c.blkDNS, tr.BlockedDNS),
	}
	if *format == "nunchi" {
		words = append(words, field("blocked_quic", c.blkQUIC, tr.BlockedQUIC))
	} else {
		words = append(words, fmt.Sprintf("blocked_quic=n/a(truth:%d)", tr.BlockedQUIC))
	}
	complete := c.tlsSNI == tr.TLSWithSNI && c.http == tr.HTTPRequests && c.dnsQuery == tr.DNSQueries &&
		c.quicSNI == tr.QUICWithSNI && c.blkTLS == tr.BlockedTLS && c.blkHTTP == tr.BlockedHTTP && c.blkDNS == tr.BlockedDNS &&
		(*format == "eve" || c.blkQUIC == tr.BlockedQUIC)
	if complete {
		words = append(words, "complete=yes")
	} else {
		words = append(words, "complete=NO")
	}
	fmt.Println(strings.Join(words, " "))
	return nil
}

func (c *counts) add(e *event, eve bool) {
	c.events++
	switch e.EventType {
	case "tls":
		if e.TLS != nil && e.TLS.SNI != "" {
			c.tlsSNI++
		}
	case "http":
		c.http++
	case "dns":
		// nunchi: type query|answer; Suricata 7 eve (dns v2): the same.
		// Suricata logs a retransmitted query again; the truth counts it once.
		if e.DNS != nil && e.DNS.Type == "query" && c.once(eve, fmt.Sprintf("q%d/%d/%s", e.FlowID, e.DNS.ID, e.DNS.RRName)) {
			c.dnsQuery++
		}
	case "quic":
		// Suricata logs a record per parsed QUIC packet; count connections.
		if e.QUIC != nil && e.QUIC.SNI != "" {
			c.quicFlows[e.FlowID] = true
		}
	case "block":
		if e.Block == nil {
			return
		}
		switch e.Block.Surface {
		case "tls_sni":
			c.blkTLS++
		case "http_host", "http_url":
			c.blkHTTP++
		case "quic_sni":
			c.blkQUIC++
		case "dns_query":
			c.blkDNS++
		}
	case "alert":
		// Suricata alerts per transaction (keep-alive requests, retransmitted
		// queries); the truth and nunchi's block events count blocked flows.
		if !eve || e.Alert == nil || !c.once(true, fmt.Sprintf("a%d/%d", e.FlowID, e.Alert.SignatureID)) {
			return
		}
		switch e.Alert.SignatureID {
		case 1:
			c.blkDNS++
		case 2:
			c.blkTLS++
		case 3:
			c.blkHTTP++
		}
	}
}

// once reports whether key is new (always true unless dedup).
func (c *counts) once(dedup bool, key string) bool {
	if !dedup {
		return true
	}
	if c.seen[key] {
		return false
	}
	c.seen[key] = true
	return true
}

// run is one process run: a row of the results file.
type run struct {
	round           int
	tool            string
	packets         float64
	wall, user, sys float64
	maxRSSKB        float64
}

func (r run) cpu() float64    { return r.user + r.sys }
func (r run) pps() float64    { return r.packets / r.wall }
func (r run) perCPU() float64 { return r.packets / r.cpu() }

func summary(args []string) error {
	if len(args) != 1 {
		return errors.New("summary RESULTS.tsv")
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var runs []run
	var tools []string
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		fs := strings.Fields(line)
		if len(fs) == 0 || fs[0] == "round" {
			continue
		}
		if len(fs) != 7 {
			return fmt.Errorf("%s:%d: want 7 fields, got %d", args[0], i+1, len(fs))
		}
		var r run
		r.tool = fs[1]
		var nums [6]float64
		for j, s := range append([]string{fs[0]}, fs[2:]...) {
			if nums[j], err = strconv.ParseFloat(s, 64); err != nil {
				return fmt.Errorf("%s:%d: %w", args[0], i+1, err)
			}
		}
		r.round, r.packets, r.wall, r.user, r.sys, r.maxRSSKB = int(nums[0]), nums[1], nums[2], nums[3], nums[4], nums[5]
		if r.wall <= 0 || r.cpu() <= 0 {
			return fmt.Errorf("%s:%d: zero time", args[0], i+1)
		}
		runs = append(runs, r)
		if !slices.Contains(tools, r.tool) {
			tools = append(tools, r.tool)
		}
	}
	if len(runs) == 0 {
		return fmt.Errorf("%s: no runs", args[0])
	}
	fmt.Printf("%-18s %6s  %-24s %-24s %-20s %-16s\n", "run", "rounds", "pkts/s (median, min–max)", "pkts/CPU-s", "CPU s (user+sys)", "peak RSS MB")
	for _, tool := range tools {
		var pps, per, cpu, rss []float64
		for _, r := range runs {
			if r.tool == tool {
				pps = append(pps, r.pps())
				per = append(per, r.perCPU())
				cpu = append(cpu, r.cpu())
				rss = append(rss, r.maxRSSKB/1024)
			}
		}
		fmt.Printf("%-18s %6d  %-24s %-24s %-20s %-16s\n", tool, len(pps), rangeM(pps), rangeM(per), rangeF(cpu, "%.2f"), rangeF(rss, "%.0f"))
	}
	// The start-up runs (a 1 MB pcap: loading the 1 M names, building the
	// engine) measure each tool's fixed cost; "net" figures subtract it.
	startup := map[string]run{}
	for _, r := range runs {
		if strings.HasPrefix(r.tool, "startup-") {
			startup[r.tool] = r
		}
	}
	net := func(r run) (pps, perCPU float64, ok bool) {
		key := "startup-nunchi"
		if r.tool == "suricata" {
			key = "startup-suri"
		}
		s, found := startup[key]
		if !found || r.wall <= s.wall || r.cpu() <= s.cpu() {
			return 0, 0, false
		}
		return (r.packets - s.packets) / (r.wall - s.wall), (r.packets - s.packets) / (r.cpu() - s.cpu()), true
	}
	for _, tool := range tools {
		if strings.HasPrefix(tool, "startup-") {
			continue
		}
		var pps, per []float64
		for _, r := range runs {
			if p, c, ok := net(r); ok && r.tool == tool {
				pps = append(pps, p)
				per = append(per, c)
			}
		}
		if len(pps) > 0 {
			fmt.Printf("%-18s %6d  %-24s %-24s (net of start-up)\n", tool, len(pps), rangeM(pps), rangeM(per))
		}
	}
	// Ratios of packets per CPU-second, nunchi over Suricata, within a round.
	for _, tool := range tools {
		if tool == "suricata" || strings.HasPrefix(tool, "startup-") {
			continue
		}
		var ratios, netRatios []float64
		for _, r := range runs {
			if r.tool != tool {
				continue
			}
			for _, s := range runs {
				if s.tool == "suricata" && s.round == r.round {
					ratios = append(ratios, r.perCPU()/s.perCPU())
					_, rn, ok1 := net(r)
					_, sn, ok2 := net(s)
					if ok1 && ok2 {
						netRatios = append(netRatios, rn/sn)
					}
				}
			}
		}
		if len(ratios) > 0 {
			fmt.Printf("ratio %s / suricata, pkts per CPU-s: median %.2f×, min–max %.2f–%.2f× over %d rounds (goal ≥ 3×)\n",
				tool, median(ratios), slices.Min(ratios), slices.Max(ratios), len(ratios))
		}
		if len(netRatios) > 0 {
			fmt.Printf("ratio %s / suricata, net of start-up:  median %.2f×, min–max %.2f–%.2f×\n",
				tool, median(netRatios), slices.Min(netRatios), slices.Max(netRatios))
		}
	}
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// rangeM formats a median and min–max of rates in millions or thousands.
func rangeM(v []float64) string {
	f := func(x float64) string {
		if x >= 1e6 {
			return fmt.Sprintf("%.2fM", x/1e6)
		}
		return fmt.Sprintf("%.0fk", x/1e3)
	}
	return fmt.Sprintf("%s (%s–%s)", f(median(v)), f(slices.Min(v)), f(slices.Max(v)))
}

func rangeF(v []float64, format string) string {
	return fmt.Sprintf(format+" ("+format+"–"+format+")", median(v), slices.Min(v), slices.Max(v))
}
