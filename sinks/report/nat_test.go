package report

import (
	"net/netip"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

// TestNATGatewaysByPublicAddress: nat events carry no flow endpoints; the
// report's gateway table names them by nat.public_ip.
func TestNATGatewaysByPublicAddress(t *testing.T) {
	a := NewAggregator(Config{})
	for i := 0; i < 3; i++ {
		a.Add(&detect.Event{Type: detect.TypeNAT, Timestamp: int64(i + 1),
			NAT: &detect.NAT{PublicIP: netip.MustParseAddr("198.51.100.1"), HostsEstimate: 2 + i}})
	}
	top := a.nat.Top(5)
	if len(top) != 1 || top[0].Key != "198.51.100.1" || top[0].Count != 3 {
		t.Fatalf("nat table %+v", top)
	}
}
