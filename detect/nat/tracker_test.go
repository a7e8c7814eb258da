package nat

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
)

// stack is an emulated client operating system: what its SYNs look like.
type stack struct {
	ttl     uint8 // initial TTL
	mss     uint16
	ws      uint8 // 0xff: none
	ts      bool
	options [8]uint8
}

var (
	linuxStack   = stack{ttl: 64, mss: 1460, ws: 7, ts: true, options: [8]uint8{2, 4, 8, 1, 3}}
	windowsStack = stack{ttl: 128, mss: 1460, ws: 8, options: [8]uint8{2, 1, 3, 1, 1, 4}}
	macStack     = stack{ttl: 64, mss: 1380, ws: 6, ts: true, options: [8]uint8{2, 1, 3, 1, 1, 8, 4}}
	routerStack  = stack{ttl: 255, mss: 1460, ws: 0xff, options: [8]uint8{2}}
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC).UnixNano()

func addr(s string) capture.Addr { return addrOf(netip.MustParseAddr(s)) }

type host struct {
	st     stack
	offset map[capture.Addr]uint32 // per destination, as Linux randomises it
	port   uint16
}

func (h *host) syn(src, dst capture.Addr, now int64, hops uint8, rng *rand.Rand) *capture.Packet {
	h.port += uint16(2 + rng.IntN(6))
	p := &capture.Packet{Timestamp: now, IPVersion: 4, Proto: capture.ProtoTCP, TTL: h.st.ttl - hops, IPID: uint32(rng.Uint32N(65536)),
		Src: src, Dst: dst, SrcPort: h.port, DstPort: 80}
	p.TCP = capture.TCPInfo{Seq: rng.Uint32(), Flags: capture.TCPSyn, MSS: h.st.mss, Options: h.st.options}
	if h.st.ws != 0xff {
		p.TCP.HasWScale, p.TCP.WScale = true, h.st.ws
	}
	if h.st.ts {
		if h.offset == nil {
			h.offset = map[capture.Addr]uint32{}
		}
		off, ok := h.offset[dst]
		if !ok {
			off = rng.Uint32()
			h.offset[dst] = off
		}
		p.TCP.HasTS, p.TCP.TSVal = true, off+uint32((now-t0)/int64(time.Millisecond))
	}
	return p
}

// natTraffic: n hosts with the given stacks behind pub make connections to
// two servers over a minute; it returns the reports.
func natTraffic(t *testing.T, tr *Tracker, pub capture.Addr, stacks []stack, conns int, seed uint64) []*detect.NAT {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	hosts := make([]*host, len(stacks))
	for i, st := range stacks {
		hosts[i] = &host{st: st, port: uint16(32768 + rng.IntN(20000))}
	}
	servers := []capture.Addr{addr("203.0.113.10"), addr("203.0.113.20")}
	var out []*detect.NAT
	now := t0
	for c := 0; c < conns; c++ {
		for _, h := range hosts {
			now += int64(rng.IntN(900)+100) * int64(time.Millisecond)
			out = append(out, tr.ObserveSYN(h.syn(pub, servers[c%2], now, 1, rng))...)
		}
	}
	return append(out, tr.Flush(now)...)
}

func last(rs []*detect.NAT) *detect.NAT {
	if len(rs) == 0 {
		return nil
	}
	return rs[len(rs)-1]
}

func TestTrackerEstimatesHostsBehindNAT(t *testing.T) {
	mixes := map[int][]stack{
		1: {linuxStack},
		2: {linuxStack, windowsStack},
		4: {linuxStack, windowsStack, macStack, linuxStack},
		8: {linuxStack, windowsStack, macStack, linuxStack, routerStack, linuxStack, macStack, linuxStack},
	}
	for n, stacks := range mixes {
		for seed := uint64(1); seed <= 5; seed++ {
			tr := New(Config{})
			r := last(natTraffic(t, tr, addr("198.51.100.1"), stacks, 6, seed))
			if n == 1 {
				if r != nil {
					t.Errorf("N=1 seed %d: reported %+v", seed, r)
				}
				continue
			}
			if r == nil {
				t.Fatalf("N=%d seed %d: no report", n, seed)
			}
			if d := r.HostsEstimate - n; d < -1 || d > 1 {
				t.Errorf("N=%d seed %d: estimate %d (evidence %+v)", n, seed, r.HostsEstimate, r.Evidence)
			}
			if r.PublicIP.String() != "198.51.100.1" || r.Confidence < 0.5 {
				t.Errorf("N=%d: %v confidence %.2f", n, r.PublicIP, r.Confidence)
			}
		}
	}
}

// A single host talking to many destinations shows one clock per
// destination (Linux randomises the offset per pair): never a NAT.
func TestTrackerSingleHostManyDestinations(t *testing.T) {
	tr := New(Config{})
	rng := rand.New(rand.NewPCG(9, 9))
	h := &host{st: linuxStack, port: 40000}
	now := t0
	for i := 0; i < 500; i++ {
		now += int64(time.Duration(rng.IntN(2000)) * time.Millisecond)
		dst := capture.AddrFrom4([]byte{203, 0, 113, byte(rng.IntN(200))})
		if rs := tr.ObserveSYN(h.syn(addr("198.51.100.7"), dst, now, 3, rng)); len(rs) > 0 {
			t.Fatalf("single host reported: %+v", rs[0])
		}
	}
	if rs := tr.Flush(now); len(rs) > 0 {
		t.Fatalf("single host reported at flush: %+v", rs[0])
	}
}

// A scanner choosing a TTL per probe is not many hosts.
func TestTrackerScannerTTLsAreNotHosts(t *testing.T) {
	tr := New(Config{})
	rng := rand.New(rand.NewPCG(3, 3))
	now := t0
	for i := 0; i < 1000; i++ {
		now += int64(time.Millisecond)
		p := &capture.Packet{Timestamp: now, IPVersion: 4, Proto: capture.ProtoTCP, TTL: uint8(37 + rng.IntN(22)),
			Src: addr("192.0.2.99"), Dst: capture.AddrFrom4([]byte{198, 51, 100, byte(i)}), SrcPort: 61000, DstPort: uint16(i)}
		p.TCP = capture.TCPInfo{Flags: capture.TCPSyn, MSS: 1460, Options: [8]uint8{2}}
		if rs := tr.ObserveSYN(p); len(rs) > 0 {
			t.Fatalf("scanner reported as NAT: %+v", rs[0].Evidence)
		}
	}
}

func TestTrackerUserAgentsAndJA4(t *testing.T) {
	tr := New(Config{})
	pub := addr("198.51.100.1")
	natTraffic(t, tr, pub, []stack{linuxStack}, 4, 1)
	ip := pub.Netip()
	tr.ObserveJA4(ip, "t13d1516h2_8daaf6152771_02713d6af862", t0)
	tr.ObserveUserAgent(ip, "Mozilla/5.0 (X11; Linux x86_64)", t0+1)
	rs := tr.ObserveUserAgent(ip, "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", t0+2)
	r := last(rs)
	if r == nil || r.Evidence.UserAgents != 2 || r.HostsEstimate != 2 || r.Evidence.JA4 != 1 {
		t.Fatalf("report %+v", r)
	}
}

func synFrom(src string, sport uint16, dst string, isn uint32, now int64) *capture.Packet {
	p := &capture.Packet{Timestamp: now, IPVersion: 4, Proto: capture.ProtoTCP, TTL: 64, Src: addr(src), Dst: addr(dst), SrcPort: sport, DstPort: 443}
	p.TCP = capture.TCPInfo{Seq: isn, Flags: capture.TCPSyn, MSS: 1460, Options: [8]uint8{2, 4, 8, 1, 3}}
	return p
}

func TestTrackerPairsInsideAndOutside(t *testing.T) {
	for _, c := range []struct {
		name  string
		outer func(i int, inner uint16) uint16
		want  string
	}{
		{"preserving", func(i int, inner uint16) uint16 { return inner }, "preserving"},
		{"sequential", func(i int, inner uint16) uint16 { return uint16(20000 + i) }, "sequential"},
		{"random", func(i int, inner uint16) uint16 { return uint16(1024 + (i*7919)%60000) }, "random"},
	} {
		tr := New(Config{InsideNetworks: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
		var r *detect.NAT
		now := t0
		for i := 0; i < 8; i++ {
			inner := fmtIP("192.0.2.", 11+i%3)
			port := uint16(40000 + 2*i)
			now += int64(time.Millisecond)
			tr.ObserveSYN(synFrom(inner, port, "203.0.113.10", uint32(1000+i), now))
			if rr := last(tr.ObserveSYN(synFrom("198.51.100.1", c.outer(i, port), "203.0.113.10", uint32(1000+i), now+50000))); rr != nil {
				r = rr
			}
		}
		if r == nil || r.Evidence.PairedHosts != 3 || r.HostsEstimate != 3 || r.PortAllocation != c.want {
			t.Errorf("%s: report %+v", c.name, r)
		}
	}
}

func fmtIP(prefix string, last int) string {
	return prefix + string(rune('0'+last/10)) + string(rune('0'+last%10))
}

// stunRun replays a classic RFC 3489 test (as Debian's stun client runs
// it) seen on the outside: Test I from port P to the primary server, Test
// I' from P to the alternate address, Tests II and III (change requests)
// from P+1. answered says which change tests the NAT let through.
func stunRun(t *testing.T, tr *Tracker, pub string, portI2 uint16, iiThrough, iiiThrough bool) []*detect.NAT {
	t.Helper()
	var out []*detect.NAT
	primary, alt := netip.MustParseAddrPort("203.0.113.10:3478"), netip.MustParseAddrPort("203.0.113.11:3479")
	now := t0
	txid := byte(0)
	send := func(from uint16, to netip.AddrPort, msg []byte) {
		now += int64(2 * time.Millisecond)
		p := &capture.Packet{Timestamp: now, IPVersion: 4, Proto: capture.ProtoUDP, Src: addr(pub), SrcPort: from,
			Dst: addrOf(to.Addr()), DstPort: to.Port(), Payload: msg}
		var m STUNMessage
		if !ParseSTUN(msg, true, &m) {
			t.Fatal("bad test message")
		}
		out = append(out, tr.ObserveSTUN(p, &m)...)
	}
	answer := func(from netip.AddrPort, toPort uint16, msg []byte) {
		now += int64(time.Millisecond)
		p := &capture.Packet{Timestamp: now, IPVersion: 4, Proto: capture.ProtoUDP, Src: addrOf(from.Addr()), SrcPort: from.Port(),
			Dst: addr(pub), DstPort: toPort, Payload: msg}
		var m STUNMessage
		ParseSTUN(msg, true, &m)
		out = append(out, tr.ObserveSTUN(p, &m)...)
	}
	mapped := func(port uint16) []byte {
		return addrAttr(attrMappedAddress, netip.AddrPortFrom(netip.MustParseAddr(pub), port))
	}
	const P = 40000
	// Test I and its answer (naming the alternate address).
	txid++
	send(P, primary, classicMsg(stunBindingRequest, txid))
	answer(primary, P, classicMsg(stunBindingSuccess, txid, mapped(P), addrAttr(attrChangedAddress, alt)))
	// Test I' toward the alternate address.
	txid++
	send(portI2, alt, classicMsg(stunBindingRequest, txid))
	answer(alt, portI2, classicMsg(stunBindingSuccess, txid, mapped(portI2), addrAttr(attrChangedAddress, primary)))
	// Tests II and III: the server answers from the other address/port;
	// a client whose answer was stopped asks again, with a new id, every 100 ms.
	for _, tc := range []struct {
		flags   uint8
		from    netip.AddrPort
		through bool
	}{
		{changeIPFlag | changePortFlag, alt, iiThrough},
		{changePortFlag, netip.AddrPortFrom(primary.Addr(), alt.Port()), iiiThrough},
	} {
		for try := 0; try < 5; try++ {
			txid++
			send(P+1, primary, classicMsg(stunBindingRequest, txid, changeAttr(tc.flags)))
			answer(tc.from, P+1, classicMsg(stunBindingSuccess, txid, mapped(P+1)))
			if tc.through {
				break
			}
			now += int64(100 * time.Millisecond)
		}
	}
	now += int64(3 * time.Second)
	return append(out, tr.Flush(now)...)
}

func TestTrackerSTUNOutside(t *testing.T) {
	for _, c := range []struct {
		name        string
		portI2      uint16
		ii, iii     bool
		want        string
		wantReports bool
	}{
		{"full cone", 40000, true, true, "full_cone", false}, // looks like no NAT from outside
		{"restricted cone", 40000, false, true, "restricted_cone", true},
		{"port restricted cone", 40000, false, false, "port_restricted_cone", true},
		{"symmetric", 51234, false, false, "symmetric", true},
	} {
		tr := New(Config{})
		r := last(stunRun(t, tr, "198.51.100.1", c.portI2, c.ii, c.iii))
		if !c.wantReports {
			if r != nil {
				t.Errorf("%s: reported %+v", c.name, r)
			}
			continue
		}
		if r == nil || r.NATType != c.want || r.TypeSource != "stun" {
			t.Errorf("%s: report %+v", c.name, r)
		}
	}
}

func TestTrackerUPnP(t *testing.T) {
	tr := New(Config{})
	igd := "192.0.2.1"
	pkt := func(src string, sport uint16, dst string, dport uint16) *capture.Packet {
		return &capture.Packet{Timestamp: t0, IPVersion: 4, Proto: capture.ProtoTCP, Src: addr(src), SrcPort: sport, Dst: addr(dst), DstPort: dport}
	}
	tr.ObserveSOAP(pkt(igd, 5000, "192.0.2.11", 41000), &SOAPMessage{Kind: SOAPExternalIP, ExternalIP: netip.MustParseAddr("198.51.100.1")})
	rs := tr.ObserveSOAP(pkt("192.0.2.11", 41002, igd, 5000), &SOAPMessage{Kind: SOAPAddPortMapping, ExternalPort: 8080,
		Protocol: []byte("TCP"), InternalClient: []byte("192.0.2.11"), InternalPort: 8080})
	r := last(rs)
	if r == nil || r.PublicIP.String() != "198.51.100.1" || r.UPnP == nil || len(r.UPnP.Mappings) != 1 ||
		r.UPnP.Mappings[0].ExternalPort != 8080 || r.UPnP.Gateway != "192.0.2.1:5000" {
		t.Fatalf("report %+v", r)
	}
	// An inbound connection accepted on the mapped port.
	sa := pkt("198.51.100.1", 8080, "203.0.113.10", 50000)
	sa.TCP.Flags = capture.TCPSyn | capture.TCPAck
	r = last(tr.ObserveAccept(sa))
	if r == nil || len(r.Forwards) != 1 || r.Forwards[0].Port != 8080 {
		t.Fatalf("after accept: %+v", r)
	}
}

func TestTrackerBoundedSources(t *testing.T) {
	tr := New(Config{MaxSources: 1000})
	rng := rand.New(rand.NewPCG(1, 2))
	h := &host{st: linuxStack}
	for i := 0; i < 100000; i++ {
		src := capture.AddrFrom4([]byte{198, 18 + byte(i>>16), byte(i >> 8), byte(i)})
		for j := 0; j < 2; j++ { // tracked from the second SYN
			tr.ObserveSYN(h.syn(src, addr("203.0.113.10"), t0+int64(2*i+j), 1, rng))
		}
	}
	st := tr.Stats()
	if st.Sources > 1000 || st.Evicted != 99000 {
		t.Fatalf("stats %+v", st)
	}
	// One SYN per address (a spoofed flood) tracks nothing.
	tr = New(Config{})
	for i := 0; i < 100000; i++ {
		src := capture.AddrFrom4([]byte{198, 18 + byte(i>>16), byte(i >> 8), byte(i)})
		tr.ObserveSYN(h.syn(src, addr("203.0.113.10"), t0+int64(i), 1, rng))
	}
	if st := tr.Stats(); st.Sources != 0 {
		t.Fatalf("single SYNs tracked: %+v", st)
	}
}
