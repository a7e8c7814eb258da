package pipeline

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
	"github.com/nunchi-sensor/nunchi/reassembly"
)

var update = flag.Bool("update", false, "rewrite testdata/golden files from the current output")

// testdataExpect states what each of the project's own captures must
// produce, independently of the golden files (which a careless -update
// could bless): the number of flows and their shapes ("proto[/tunnel:id]
// [/vlan…]"), and the error for the broken files.
var testdataExpect = map[string]struct {
	flows int
	kinds string
	err   string
}{
	"6in4.pcap":             {1, "TCP/6in4", ""},
	"bigendian.pcap":        {1, "TCP", ""},
	"corrupt-len.pcap":      {2, "UDP", "frame 4 at byte offset 328: capture length exceeds snap length"},
	"erspan1.pcap":          {1, "TCP/erspan1", ""},
	"erspan2.pcap":          {1, "TCP/erspan2:100", ""},
	"erspan3.pcap":          {1, "TCP/erspan3:300", ""},
	"eth-ipv6-tcp.pcap":     {1, "TCP", ""},
	"eth-tcp.pcap":          {1, "TCP", ""},
	"eth-udp.pcap":          {2, "UDP", ""},
	"frag4-overlap.pcap":    {2, "UDP", ""},
	"frag4.pcap":            {2, "UDP", ""},
	"frag6.pcap":            {2, "UDP", ""},
	"geneve.pcap":           {1, "TCP/geneve:7", ""},
	"gre-ip.pcap":           {1, "TCP/gre", ""},
	"gre-pptp.pcap":         {1, "TCP/pptp:16386", ""},
	"icmp.pcap":             {1, "ICMP", ""},
	"icmp6.pcap":            {1, "IPv6-ICMP", ""},
	"ipip.pcap":             {1, "TCP/ipip", ""},
	"ipv6-exthdr.pcap":      {1, "TCP", ""},
	"loop.pcap":             {2, "TCP UDP", ""},
	"malformed.pcap":        {4, "TCP UDP", ""},
	"mpls.pcap":             {1, "TCP", ""},
	"multi-if.pcapng":       {3, "TCP UDP", ""},
	"nanosec.pcap":          {2, "TCP UDP", ""},
	"null.pcap":             {4, "TCP UDP", ""},
	"pppoe.pcap":            {1, "TCP", ""},
	"qinq-88a8.pcap":        {1, "TCP/vlan200.100", ""},
	"qinq-9100.pcap":        {1, "TCP/vlan200.100", ""},
	"raw.pcap":              {2, "TCP UDP", ""},
	"sctp.pcap":             {1, "SCTP", ""},
	"sll.pcap":              {2, "TCP UDP", ""},
	"sll2.pcap":             {2, "TCP UDP", ""},
	"teredo.pcap":           {1, "TCP/teredo", ""},
	"truncated.pcap":        {1, "TCP", "frame 6 at byte offset 502: file truncated in the middle of a record"},
	"unknown-linktype.pcap": {0, "", "link type 147 (UnknownLinkType): unsupported link type"},
	"vlan.pcap":             {1, "TCP/vlan100", ""},
	"vxlan.pcap":            {1, "TCP/vxlan:42", ""},
	"demo.pcap":             {12, "IPv6-ICMP TCP UDP", ""},
}

func flowKinds(evs []*detect.Event) (int, string) {
	set := map[string]bool{}
	n := 0
	for _, e := range evs {
		if e.Type != detect.TypeFlow {
			continue
		}
		n++
		k := detect.ProtoName(e.Proto)
		if t := e.Tunnel; t != nil {
			k += "/" + t.Type
			if t.HasID {
				k += fmt.Sprintf(":%d", t.ID)
			}
		}
		if len(e.VLAN) > 0 {
			k += "/vlan"
			for i, v := range e.VLAN {
				if i > 0 {
					k += "."
				}
				k += fmt.Sprint(v)
			}
		}
		set[k] = true
	}
	var ks []string
	for k := range set {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return n, strings.Join(ks, " ")
}

// TestReplayGolden replays every capture in testdata/ through the real
// pipeline (one shard, packet time) and compares the events with
// testdata/golden/<file>.jsonl. Run with -update to rewrite them.
func TestReplayGolden(t *testing.T) {
	root := testutil.RepoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "testdata", "pcap", "*.pcap*"))
	files = append(files, filepath.Join(root, "testdata", "demo.pcap"))
	seen := map[string]bool{}
	for _, path := range files {
		name := filepath.Base(path)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			exp, ok := testdataExpect[name]
			if !ok {
				t.Fatalf("no expectation for %s: add it to testdataExpect", name)
			}
			events, st, err := replayFile(t, path, Config{Sensor: "golden", Protocols: DefaultProtocols(), Streams: reassembly.DefaultStreamConfig()})
			switch {
			case exp.err == "" && err != nil:
				t.Fatalf("replay: %v", err)
			case exp.err != "" && (err == nil || !strings.Contains(err.Error(), exp.err)):
				t.Fatalf("replay error = %v, want one containing %q", err, exp.err)
			}
			n, kinds := flowKinds(events)
			if n != exp.flows || kinds != exp.kinds {
				t.Errorf("flows: %d %q, want %d %q", n, kinds, exp.flows, exp.kinds)
			}
			checkStatsAccounting(t, st)

			var buf bytes.Buffer
			for _, e := range events {
				buf.Write(e.AppendJSON(nil))
				buf.WriteByte('\n')
			}
			golden := filepath.Join(root, "testdata", "golden", name+".jsonl")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./pipeline -run TestReplayGolden -update)", err)
			}
			if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(buf.String(), "\n")); diff != "" {
				t.Errorf("events differ from %s (-want, +got):\n%s", golden, diff)
			}
		})
	}
	for name := range testdataExpect {
		if !seen[name] {
			t.Errorf("expectation for %s, which is not in testdata", name)
		}
	}
}

// TestReplayDeterministic: the same file gives the same events, and with
// several shards the same set of flow events (order across shards aside).
func TestReplayDeterministic(t *testing.T) {
	path := filepath.Join(testutil.RepoRoot(t), "testdata", "demo.pcap")
	lines := func(shards int) []string {
		evs, _, err := replayFile(t, path, Config{Sensor: "det", Shards: shards})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range evs {
			if e.Type == detect.TypeFlow {
				out = append(out, string(e.AppendJSON(nil)))
			}
		}
		return out
	}
	a, b := lines(1), lines(1)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two single-shard runs differ:\n%s", diff)
	}
	c := lines(3)
	sort.Strings(a)
	sort.Strings(c)
	if diff := cmp.Diff(a, c); diff != "" {
		t.Errorf("1 shard vs 3 shards: different flow events:\n%s", diff)
	}
}
