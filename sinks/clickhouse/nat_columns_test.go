package clickhouse_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/sinks/clickhouse"
)

// TestNATEventColumns: every member of a fully populated nat event (every
// optional list and object set) lands in a column of the nat table, so no
// field is dropped silently by the insert path.
func TestNATEventColumns(t *testing.T) {
	addr := serverAddr(t)
	db, conn := testDB(t, addr)
	ctx := context.Background()
	mconn, d, err := clickhouse.Open(ctx, clickhouse.Config{Addr: addr, DialTimeout: 5e9, InsertTimeout: 30e9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mconn.Close()
	if err := clickhouse.Migrate(ctx, mconn, db, d); err != nil {
		t.Fatal(err)
	}
	e := &detect.Event{Type: detect.TypeNAT, Timestamp: 1795261200e9, Sensor: "s", NAT: &detect.NAT{
		PublicIP: netip.MustParseAddr("198.51.100.1"), HostsEstimate: 3, Confidence: 0.9,
		Evidence: detect.NATEvidence{TTLClasses: 2, TTLs: []string{"64-1", "128-1"}, IPIDSequences: 1, Clocks: 1, PortRuns: 2,
			SYNSignatures: 2, Signatures: []string{"64:1460:7:mss,sok,ts,nop,ws"}, UserAgents: 2, UAFamilies: []string{"linux", "windows"},
			JA4: 1, JA4s: []string{"t13d1516h2_8daaf6152771_02713d6af862"}, PairedHosts: 1, InsideHosts: []string{"192.0.2.11"}, SYNs: 9, PortSamples: 9},
		NATType: "port_restricted_cone", Mapping: "endpoint_independent", Filtering: "address_port_dependent", TypeSource: "stun",
		PortAllocation: "preserving", CGNAT: true, WindowStart: 1795261100e9, WindowEnd: 1795261200e9,
		UPnP: &detect.UPnP{Gateway: "192.0.2.1:5000", Mappings: []detect.PortMapping{{ExternalPort: 8080, Protocol: "TCP",
			InternalClient: "192.0.2.11", InternalPort: 8080, Description: "x", LeaseSeconds: 60}}},
		Forwards: []detect.PortForward{{Port: 8080, Protocol: "TCP", Accepted: 1}},
	}}
	var ev map[string]any
	if err := json.Unmarshal(e.AppendJSON(nil), &ev); err != nil {
		t.Fatal(err)
	}
	_, types := tableRows(t, conn, db, "nat")
	flat := map[string]any{}
	flatten("", ev, flat, types)
	for k := range flat {
		if _, ok := types[k]; !ok && k != "event_type" {
			t.Errorf("nat: JSON field %s has no column", k)
		}
	}
}
