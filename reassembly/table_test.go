package reassembly

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nunchi-sensor/nunchi/capture"
)

// t0 is the packet time the tests start at.
var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC).UnixNano()

func ip4(a, b, c, d byte) capture.Addr { return capture.AddrFrom4([]byte{a, b, c, d}) }

func ip6(s string) capture.Addr { return capture.Addr(netip.MustParseAddr(s).As16()) }

// ipPacket fills the fields common to every transport; ts is relative to t0,
// l4 is the transport header length.
func ipPacket(src capture.Addr, sport uint16, dst capture.Addr, dport uint16, proto uint8, ts time.Duration, l4, payload int) capture.Packet {
	p := capture.Packet{
		Timestamp: t0 + int64(ts), Proto: proto, TTL: 64,
		Src: src, Dst: dst, SrcPort: sport, DstPort: dport, PayloadLen: uint32(payload),
	}
	ipHdr := 40
	p.IPVersion = 6
	if src.Is4() {
		ipHdr, p.IPVersion = 20, 4
	}
	p.IPLen = uint32(ipHdr + l4 + payload)
	p.WireLen = p.IPLen + 14
	p.CapLen = p.WireLen
	return p
}

func tcp(src capture.Addr, sport uint16, dst capture.Addr, dport uint16, flags uint8, ts time.Duration, payload int) capture.Packet {
	p := ipPacket(src, sport, dst, dport, capture.ProtoTCP, ts, 20, payload)
	p.TCP.Flags, p.TCP.HeaderLen = flags, 20
	return p
}

func udp(src capture.Addr, sport uint16, dst capture.Addr, dport uint16, ts time.Duration, payload int) capture.Packet {
	return ipPacket(src, sport, dst, dport, capture.ProtoUDP, ts, 8, payload)
}

// icmp builds an ICMP (IPv4 addresses) or ICMPv6 packet.
func icmp(src, dst capture.Addr, typ, code uint8, ts time.Duration, payload int) capture.Packet {
	proto := uint8(capture.ProtoICMPv6)
	if src.Is4() {
		proto = capture.ProtoICMP
	}
	return ipPacket(src, uint16(typ), dst, uint16(code), proto, ts, 8, payload)
}

// testConfig has distinct, round timeouts so that tests can tell which one applied.
func testConfig() FlowConfig {
	cfg := DefaultFlowConfig()
	cfg.MaxFlows = 1024
	cfg.Timeouts = ProtoTimeouts{
		TCP:   Timeouts{New: 10 * time.Second, Established: 100 * time.Second, Closed: 3 * time.Second},
		UDP:   Timeouts{New: 7 * time.Second, Established: 70 * time.Second, Closed: 7 * time.Second},
		Other: Timeouts{New: 5 * time.Second, Established: 50 * time.Second, Closed: 5 * time.Second},
	}
	cfg.EmergencyTimeouts = ProtoTimeouts{
		TCP:   Timeouts{New: 2 * time.Second, Established: 20 * time.Second, Closed: 1 * time.Second},
		UDP:   Timeouts{New: 2 * time.Second, Established: 20 * time.Second, Closed: 1 * time.Second},
		Other: Timeouts{New: 2 * time.Second, Established: 20 * time.Second, Closed: 1 * time.Second},
	}
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	return cfg
}

// endRecord is what an EndFunc saw: a copy of the flow and the reason.
type endRecord struct {
	Flow   Flow
	Reason EndReason
}

type recorder struct{ ends []endRecord }

func (r *recorder) onEnd(f *Flow, reason EndReason) { r.ends = append(r.ends, endRecord{*f, reason}) }

func (r *recorder) reasons() []string {
	var s []string
	for _, e := range r.ends {
		s = append(s, fmt.Sprintf("%d:%v", e.Flow.ID, e.Reason))
	}
	return s
}

// checkTable asserts the accounting equation and the internal consistency
// of the map, the slots and the LRU lists.
func checkTable(t *testing.T, tb *Table) {
	t.Helper()
	st := tb.Stats()
	var ended uint64
	for _, n := range st.Ended {
		ended += n
	}
	if st.Created != ended+st.Active {
		t.Errorf("Created %d != sum(Ended) %d + Active %d", st.Created, ended, st.Active)
	}
	if st.Active != uint64(tb.Len()) {
		t.Errorf("Stats().Active %d != Len() %d", st.Active, tb.Len())
	}
	if st.Peak < st.Active {
		t.Errorf("Peak %d < Active %d", st.Peak, st.Active)
	}
	if st.TCPReuse != st.Ended[EndReuse] {
		t.Errorf("TCPReuse %d != Ended[reuse] %d", st.TCPReuse, st.Ended[EndReuse])
	}
	onLists := 0
	for l := range tb.lists {
		var prev uint32
		for i := tb.lists[l].head; i != 0; i = tb.slot(i).next {
			f := tb.slot(i)
			if !f.used || int(f.list) != l || f.prev != prev {
				t.Fatalf("list %d: slot %d: used %v list %d prev %d (want %d)", l, i, f.used, f.list, f.prev, prev)
			}
			if j := tb.find(&f.Key, uint32(f.Key.Hash())); j != i {
				t.Fatalf("list %d: slot %d: index has %d", l, i, j)
			}
			if want := classOf(f.Key.Proto)*3 + int(f.State); l != want {
				t.Errorf("flow %d (%v) on list %d, want %d", f.ID, f.State, l, want)
			}
			prev = i
			onLists++
			if onLists > tb.Len() {
				t.Fatalf("lists hold more flows than the map (%d): cycle?", tb.Len())
			}
		}
		if tb.lists[l].tail != prev {
			t.Fatalf("list %d: tail %d, last element %d", l, tb.lists[l].tail, prev)
		}
	}
	if onLists != tb.Len() {
		t.Errorf("lists hold %d flows, map %d", onLists, tb.Len())
	}
}

// flowView is the part of a Flow the counter tests compare.
type flowView struct {
	Client, Server         string
	State                  string
	Midstream              bool
	Pkts, Bytes, Data      [2]uint64
	TCPFlags               [2]uint8
	History                string
	First, Last            time.Duration // relative to t0
	ICMPType, ICMPCode, IP uint8
}

func viewOf(f *Flow) flowView {
	ca, cp := f.Client()
	sa, sp := f.Server()
	return flowView{
		Client: netip.AddrPortFrom(ca.Netip(), cp).String(), Server: netip.AddrPortFrom(sa.Netip(), sp).String(),
		State: f.State.String(), Midstream: f.Midstream,
		Pkts: f.Pkts, Bytes: f.Bytes, Data: f.Data, TCPFlags: f.TCPFlags, History: f.HistoryString(),
		First: time.Duration(f.First - t0), Last: time.Duration(f.Last - t0),
		ICMPType: f.ICMPType, ICMPCode: f.ICMPCode, IP: f.IPVersion,
	}
}

var (
	cli4 = ip4(192, 168, 1, 10)
	srv4 = ip4(93, 184, 216, 34)
	cli6 = ip6("2001:db8:1::10")
	srv6 = ip6("2001:db8:2::1")
)

const (
	syn    = capture.TCPSyn
	synAck = capture.TCPSyn | capture.TCPAck
	ack    = capture.TCPAck
	pshAck = capture.TCPPsh | capture.TCPAck
	finAck = capture.TCPFin | capture.TCPAck
	rst    = capture.TCPRst
	rstAck = capture.TCPRst | capture.TCPAck
)

func TestOrientation(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name           string
		pkts           []capture.Packet
		client, server string
		midstream      bool
	}{
		{
			name:   "syn first: sender is client",
			pkts:   []capture.Packet{tcp(srv4, 51000, cli4, 443, syn, 0, 0), tcp(cli4, 443, srv4, 51000, synAck, ms, 0)},
			client: "93.184.216.34:51000", server: "192.168.1.10:443",
		},
		{
			name:   "syn-ack first: receiver is client",
			pkts:   []capture.Packet{tcp(srv4, 443, cli4, 51000, synAck, 0, 0), tcp(cli4, 51000, srv4, 443, ack, ms, 0)},
			client: "192.168.1.10:51000", server: "93.184.216.34:443",
		},
		{
			name:   "syn first to an ephemeral port",
			pkts:   []capture.Packet{tcp(cli4, 443, srv4, 51000, syn, 0, 0)},
			client: "192.168.1.10:443", server: "93.184.216.34:51000",
		},
		{
			name:   "mid-stream data from 443 to 51000",
			pkts:   []capture.Packet{tcp(srv4, 443, cli4, 51000, pshAck, 0, 1200), tcp(cli4, 51000, srv4, 443, ack, ms, 0)},
			client: "192.168.1.10:51000", server: "93.184.216.34:443", midstream: true,
		},
		{
			name:   "mid-stream data to the service port",
			pkts:   []capture.Packet{tcp(cli6, 51000, srv6, 443, pshAck, 0, 100)},
			client: "[2001:db8:1::10]:51000", server: "[2001:db8:2::1]:443", midstream: true,
		},
		{
			name:   "udp answer first: from 53 to 40000",
			pkts:   []capture.Packet{udp(srv4, 53, cli4, 40000, 0, 90), udp(cli4, 40000, srv4, 53, ms, 30)},
			client: "192.168.1.10:40000", server: "93.184.216.34:53",
		},
		{
			name:   "udp both ports ephemeral: first sender is client",
			pkts:   []capture.Packet{udp(srv4, 50000, cli4, 40000, 0, 90), udp(cli4, 40000, srv4, 50000, ms, 30)},
			client: "93.184.216.34:50000", server: "192.168.1.10:40000",
		},
		{
			name:   "udp both service ports: the lower port is the server",
			pkts:   []capture.Packet{udp(cli4, 5060, srv4, 123, 0, 48)},
			client: "192.168.1.10:5060", server: "93.184.216.34:123",
		},
		{
			name:   "icmp echo request first",
			pkts:   []capture.Packet{icmp(cli4, srv4, 8, 0, 0, 56), icmp(srv4, cli4, 0, 0, ms, 56)},
			client: "192.168.1.10:8", server: "93.184.216.34:8",
		},
		{
			name:   "icmp echo reply first",
			pkts:   []capture.Packet{icmp(srv4, cli4, 0, 0, 0, 56), icmp(cli4, srv4, 8, 0, ms, 56)},
			client: "192.168.1.10:8", server: "93.184.216.34:8",
		},
		{
			name:   "icmp6 echo reply first",
			pkts:   []capture.Packet{icmp(srv6, cli6, 129, 0, 0, 56), icmp(cli6, srv6, 128, 0, ms, 56)},
			client: "[2001:db8:1::10]:128", server: "[2001:db8:2::1]:128",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := NewTable(testConfig(), nil)
			var first *Flow
			var firstID uint64
			for n := range tt.pkts {
				p := &tt.pkts[n]
				f, dir := tb.Update(p)
				if n == 0 {
					first, firstID = f, f.ID
				} else if f != first || f.ID != firstID {
					t.Fatalf("packet %d: got another flow", n)
				}
				// A packet sent by the client goes to the server.
				ca, _ := f.Client()
				wantDir := ToClient
				if p.Src == ca {
					wantDir = ToServer
				}
				if dir != wantDir {
					t.Errorf("packet %d from %v: dir %d, want %d", n, p.Src, dir, wantDir)
				}
			}
			if tb.Len() != 1 {
				t.Fatalf("Len() = %d, want 1", tb.Len())
			}
			v := viewOf(first)
			got := []any{v.Client, v.Server, v.Midstream}
			want := []any{tt.client, tt.server, tt.midstream}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("client, server, midstream (-got, +want):\n%s", diff)
			}
			checkTable(t, tb)
		})
	}
}

// TestICMPTypeIsClients checks that Flow.ICMPType/ICMPCode report the
// client's message (the request), whichever side was seen first: flow
// events and Community ID are computed from them in client → server order.
func TestICMPTypeIsClients(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name      string
		pkts      []capture.Packet
		typ, code uint8
	}{
		{"v4 request first", []capture.Packet{icmp(cli4, srv4, 8, 0, 0, 56), icmp(srv4, cli4, 0, 0, ms, 56)}, 8, 0},
		{"v4 reply first", []capture.Packet{icmp(srv4, cli4, 0, 0, 0, 56), icmp(cli4, srv4, 8, 0, ms, 56)}, 8, 0},
		{"v4 reply only", []capture.Packet{icmp(srv4, cli4, 0, 0, 0, 56)}, 8, 0},
		{"v4 unreachable", []capture.Packet{icmp(srv4, cli4, 3, 3, 0, 28)}, 3, 3},
		{"v6 reply first", []capture.Packet{icmp(srv6, cli6, 129, 0, 0, 56), icmp(cli6, srv6, 128, 0, ms, 56)}, 128, 0},
		{"v6 neighbour advertisement only", []capture.Packet{icmp(srv6, cli6, 136, 0, 0, 24)}, 135, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			tb := NewTable(testConfig(), rec.onEnd)
			for n := range tt.pkts {
				tb.Update(&tt.pkts[n])
			}
			tb.Flush(EndShutdown)
			if len(rec.ends) != 1 {
				t.Fatalf("%d flows ended, want 1", len(rec.ends))
			}
			f := &rec.ends[0].Flow
			if f.ICMPType != tt.typ || f.ICMPCode != tt.code {
				t.Errorf("ICMPType/Code = %d/%d, want %d/%d", f.ICMPType, f.ICMPCode, tt.typ, tt.code)
			}
			// Community ID in client → server order with the flow's type
			// and code must equal the one of the first packet as seen.
			ca, _ := f.Client()
			sa, _ := f.Server()
			p := &tt.pkts[0]
			got := CommunityID(0, f.Key.Proto, ca.Bytes(), sa.Bytes(), uint16(f.ICMPType), uint16(f.ICMPCode))
			want := CommunityID(0, p.Proto, p.Src.Bytes(), p.Dst.Bytes(), p.SrcPort, p.DstPort)
			if got != want {
				t.Errorf("CommunityID from the flow = %s, from its first packet %s", got, want)
			}
			checkTable(t, tb)
		})
	}
}

func TestCountersAndHistory(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		pkts []capture.Packet
		want flowView
	}{
		{
			name: "handshake, data, fin both sides",
			pkts: []capture.Packet{
				tcp(cli4, 51000, srv4, 80, syn, 0, 0),
				tcp(srv4, 80, cli4, 51000, synAck, 1*ms, 0),
				tcp(cli4, 51000, srv4, 80, ack, 2*ms, 0),
				tcp(cli4, 51000, srv4, 80, pshAck, 3*ms, 100),
				tcp(srv4, 80, cli4, 51000, ack, 4*ms, 0),
				tcp(srv4, 80, cli4, 51000, pshAck, 5*ms, 1000),
				tcp(srv4, 80, cli4, 51000, pshAck, 6*ms, 460),
				tcp(cli4, 51000, srv4, 80, ack, 7*ms, 0),
				tcp(cli4, 51000, srv4, 80, finAck, 8*ms, 0),
				tcp(srv4, 80, cli4, 51000, finAck, 9*ms, 0),
				tcp(cli4, 51000, srv4, 80, ack, 10*ms, 0),
			},
			want: flowView{
				Client: "192.168.1.10:51000", Server: "93.184.216.34:80", State: "closed",
				Pkts:     [2]uint64{6, 5},
				Bytes:    [2]uint64{6*40 + 100, 5*40 + 1460},
				Data:     [2]uint64{100, 1460},
				TCPFlags: [2]uint8{syn | pshAck | capture.TCPFin, synAck | pshAck | capture.TCPFin},
				History:  "ShADadFf",
				Last:     10 * ms, IP: 4,
			},
		},
		{
			name: "syn answered by rst",
			pkts: []capture.Packet{
				tcp(cli6, 51000, srv6, 22, syn, 0, 0),
				tcp(srv6, 22, cli6, 51000, rstAck, 1*ms, 0),
			},
			want: flowView{
				Client: "[2001:db8:1::10]:51000", Server: "[2001:db8:2::1]:22", State: "closed",
				Pkts: [2]uint64{1, 1}, Bytes: [2]uint64{60, 60},
				TCPFlags: [2]uint8{syn, rstAck},
				History:  "Sr",
				Last:     1 * ms, IP: 6,
			},
		},
		{
			name: "client resets after data",
			pkts: []capture.Packet{
				tcp(cli4, 51000, srv4, 443, syn, 0, 0),
				tcp(srv4, 443, cli4, 51000, synAck, 1*ms, 0),
				tcp(cli4, 51000, srv4, 443, pshAck, 2*ms, 517),
				tcp(cli4, 51000, srv4, 443, rst, 3*ms, 0),
			},
			want: flowView{
				Client: "192.168.1.10:51000", Server: "93.184.216.34:443", State: "closed",
				Pkts: [2]uint64{3, 1}, Bytes: [2]uint64{3*40 + 517, 40}, Data: [2]uint64{517, 0},
				TCPFlags: [2]uint8{syn | pshAck | rst, synAck},
				History:  "ShDR",
				Last:     3 * ms, IP: 4,
			},
		},
		{
			name: "udp",
			pkts: []capture.Packet{
				udp(cli4, 40000, srv4, 53, 0, 30),
				udp(srv4, 53, cli4, 40000, 20*ms, 90),
				udp(cli4, 40000, srv4, 53, 30*ms, 31),
			},
			want: flowView{
				Client: "192.168.1.10:40000", Server: "93.184.216.34:53", State: "established",
				Pkts: [2]uint64{2, 1}, Bytes: [2]uint64{2*28 + 61, 28 + 90}, Data: [2]uint64{61, 90},
				Last: 30 * ms, IP: 4,
			},
		},
		{
			name: "icmp6 echo",
			pkts: []capture.Packet{
				icmp(cli6, srv6, 128, 0, 0, 56),
				icmp(srv6, cli6, 129, 0, 1*ms, 56),
			},
			want: flowView{
				Client: "[2001:db8:1::10]:128", Server: "[2001:db8:2::1]:128", State: "established",
				Pkts: [2]uint64{1, 1}, Bytes: [2]uint64{104, 104}, Data: [2]uint64{56, 56},
				Last: 1 * ms, ICMPType: 128, IP: 6,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := NewTable(testConfig(), nil)
			var f *Flow
			for n := range tt.pkts {
				f, _ = tb.Update(&tt.pkts[n])
			}
			if diff := cmp.Diff(viewOf(f), tt.want); diff != "" {
				t.Errorf("flow (-got, +want):\n%s", diff)
			}
			if st := tb.Stats(); st.Packets != uint64(len(tt.pkts)) || st.Created != 1 {
				t.Errorf("Stats(): Packets %d Created %d, want %d 1", st.Packets, st.Created, len(tt.pkts))
			}
			checkTable(t, tb)
		})
	}
}

func TestHistoryRecordsEachLetterOnce(t *testing.T) {
	tb := NewTable(testConfig(), nil)
	var f *Flow
	for r := range 3 {
		base := time.Duration(r) * time.Second
		for _, p := range []capture.Packet{
			tcp(cli4, 51000, srv4, 80, syn, base, 0),
			tcp(srv4, 80, cli4, 51000, synAck, base+1, 0),
			tcp(cli4, 51000, srv4, 80, ack, base+2, 0),
			tcp(cli4, 51000, srv4, 80, pshAck, base+3, 10),
			tcp(srv4, 80, cli4, 51000, pshAck, base+4, 10),
			tcp(srv4, 80, cli4, 51000, ack, base+5, 0),
		} {
			f, _ = tb.Update(&p)
		}
	}
	if got, want := f.HistoryString(), "ShADda"; got != want {
		t.Errorf("History = %q, want %q", got, want)
	}
	checkTable(t, tb)
}

func TestStates(t *testing.T) {
	ms := time.Millisecond
	type step struct {
		pkt   capture.Packet
		state State
	}
	tests := []struct {
		name  string
		steps []step
		// After the last packet, idle for keep does not expire the flow and
		// idle for expire does: the timeout of the final state applies.
		keep, expire time.Duration
	}{
		{
			name: "tcp handshake to fin",
			steps: []step{
				{tcp(cli4, 51000, srv4, 80, syn, 0, 0), StateNew},
				{tcp(srv4, 80, cli4, 51000, synAck, 1*ms, 0), StateNew},
				{tcp(cli4, 51000, srv4, 80, ack, 2*ms, 0), StateEstablished},
				{tcp(cli4, 51000, srv4, 80, pshAck, 3*ms, 10), StateEstablished},
				{tcp(cli4, 51000, srv4, 80, finAck, 4*ms, 0), StateEstablished},
				{tcp(srv4, 80, cli4, 51000, finAck, 5*ms, 0), StateClosed},
				{tcp(cli4, 51000, srv4, 80, ack, 6*ms, 0), StateClosed},
			},
			keep: 3 * time.Second, expire: 3*time.Second + 1,
		},
		{
			name: "tcp established",
			steps: []step{
				{tcp(cli4, 51000, srv4, 80, syn, 0, 0), StateNew},
				{tcp(srv4, 80, cli4, 51000, synAck, 1*ms, 0), StateNew},
				{tcp(cli4, 51000, srv4, 80, ack, 2*ms, 0), StateEstablished},
			},
			keep: 100 * time.Second, expire: 100*time.Second + 1,
		},
		{
			name: "tcp syn only stays new",
			steps: []step{
				{tcp(cli4, 51000, srv4, 80, syn, 0, 0), StateNew},
				{tcp(cli4, 51000, srv4, 80, syn, 1*time.Second, 0), StateNew},
			},
			keep: 10 * time.Second, expire: 10*time.Second + 1,
		},
		{
			name: "tcp syn-ack unanswered stays new",
			steps: []step{
				{tcp(cli4, 51000, srv4, 80, syn, 0, 0), StateNew},
				{tcp(srv4, 80, cli4, 51000, synAck, 1*ms, 0), StateNew},
				{tcp(srv4, 80, cli4, 51000, synAck, 1*time.Second, 0), StateNew},
			},
			keep: 10 * time.Second, expire: 10*time.Second + 1,
		},
		{
			name: "tcp rst after handshake",
			steps: []step{
				{tcp(cli4, 51000, srv4, 80, syn, 0, 0), StateNew},
				{tcp(srv4, 80, cli4, 51000, synAck, 1*ms, 0), StateNew},
				{tcp(cli4, 51000, srv4, 80, ack, 2*ms, 0), StateEstablished},
				{tcp(srv4, 80, cli4, 51000, rst, 3*ms, 0), StateClosed},
				{tcp(cli4, 51000, srv4, 80, ack, 4*ms, 0), StateClosed}, // a late ACK does not reopen
			},
			keep: 3 * time.Second, expire: 3*time.Second + 1,
		},
		{
			name: "tcp mid-stream established when seen both ways",
			steps: []step{
				{tcp(srv4, 443, cli4, 51000, pshAck, 0, 1400), StateNew},
				{tcp(srv4, 443, cli4, 51000, pshAck, 1*ms, 1400), StateNew},
				{tcp(cli4, 51000, srv4, 443, ack, 2*ms, 0), StateEstablished},
			},
			keep: 100 * time.Second, expire: 100*time.Second + 1,
		},
		{
			name: "udp one way stays new",
			steps: []step{
				{udp(cli4, 40000, srv4, 53, 0, 30), StateNew},
				{udp(cli4, 40000, srv4, 53, 1*time.Second, 30), StateNew},
			},
			keep: 7 * time.Second, expire: 7*time.Second + 1,
		},
		{
			name: "udp both ways is established",
			steps: []step{
				{udp(cli4, 40000, srv4, 53, 0, 30), StateNew},
				{udp(srv4, 53, cli4, 40000, 1*ms, 90), StateEstablished},
			},
			keep: 70 * time.Second, expire: 70*time.Second + 1,
		},
		{
			name: "icmp echo",
			steps: []step{
				{icmp(cli4, srv4, 8, 0, 0, 56), StateNew},
				{icmp(srv4, cli4, 0, 0, 1*ms, 56), StateEstablished},
			},
			keep: 50 * time.Second, expire: 50*time.Second + 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			tb := NewTable(testConfig(), rec.onEnd)
			var f *Flow
			for n, s := range tt.steps {
				f, _ = tb.Update(&s.pkt)
				if f.State != s.state {
					t.Errorf("after packet %d: state %v, want %v", n, f.State, s.state)
				}
				checkTable(t, tb)
			}
			if tb.Len() != 1 {
				t.Fatalf("Len() = %d, want 1", tb.Len())
			}
			last, id := f.Last, f.ID
			tb.Expire(last + int64(tt.keep))
			if tb.Len() != 1 || len(rec.ends) != 0 {
				t.Fatalf("idle %v: Len() %d, ended %v; want the flow kept", tt.keep, tb.Len(), rec.reasons())
			}
			tb.Expire(last + int64(tt.expire))
			if diff := cmp.Diff(rec.reasons(), []string{fmt.Sprintf("%d:timeout", id)}); diff != "" {
				t.Errorf("idle %v: ended (-got, +want):\n%s", tt.expire, diff)
			}
			checkTable(t, tb)
		})
	}
}

func TestExpirePacketTime(t *testing.T) {
	cfg := testConfig() // udp.new 7 s
	t.Run("idle flow expires via Expire", func(t *testing.T) {
		var rec recorder
		tb := NewTable(cfg, rec.onEnd)
		p := udp(cli4, 40000, srv4, 53, 0, 30)
		f, _ := tb.Update(&p)
		id, key := f.ID, f.Key
		q := udp(cli4, 40001, srv4, 53, 5*time.Second, 30) // another flow, not yet idle
		tb.Update(&q)

		tb.Expire(t0 + int64(7*time.Second)) // idle exactly the timeout: kept
		if tb.Len() != 2 || len(rec.ends) != 0 {
			t.Fatalf("at 7 s: Len() %d, ended %v", tb.Len(), rec.reasons())
		}
		tb.Expire(t0 + int64(7*time.Second) + 1)
		if len(rec.ends) != 1 {
			t.Fatalf("at 7 s + 1 ns: ended %v, want 1 flow", rec.reasons())
		}
		got := rec.ends[0]
		want := flowView{
			Client: "192.168.1.10:40000", Server: "93.184.216.34:53", State: "new",
			Pkts: [2]uint64{1, 0}, Bytes: [2]uint64{58, 0}, Data: [2]uint64{30, 0}, IP: 4,
		}
		if diff := cmp.Diff(viewOf(&got.Flow), want); diff != "" {
			t.Errorf("ended flow (-got, +want):\n%s", diff)
		}
		if got.Flow.ID != id || got.Flow.Key != key || got.Reason != EndTimeout {
			t.Errorf("ended ID %d key %+v reason %v, want %d %+v timeout", got.Flow.ID, got.Flow.Key, got.Reason, id, key)
		}
		if tb.Lookup(&p) != nil {
			t.Error("Lookup finds the expired flow")
		}
		if tb.Lookup(&q) == nil {
			t.Error("Lookup misses the flow that is not idle")
		}
		if st := tb.Stats(); st.Ended[EndTimeout] != 1 || st.Active != 1 {
			t.Errorf("Stats(): Ended[timeout] %d Active %d, want 1 1", st.Ended[EndTimeout], st.Active)
		}
		checkTable(t, tb)
	})

	t.Run("Update on an idle flow starts a new one", func(t *testing.T) {
		var rec recorder
		tb := NewTable(cfg, rec.onEnd)
		p := udp(cli4, 40000, srv4, 53, 0, 30)
		f, _ := tb.Update(&p)
		oldID := f.ID
		p2 := udp(cli4, 40000, srv4, 53, 7*time.Second, 30) // idle exactly the timeout: same flow
		if f, _ = tb.Update(&p2); f.ID != oldID || f.Pkts[ToServer] != 2 {
			t.Fatalf("at 7 s: ID %d Pkts %v, want the same flow with 2 packets", f.ID, f.Pkts)
		}
		p3 := udp(srv4, 53, cli4, 40000, 14*time.Second+1, 90) // no Expire in between
		f, dir := tb.Update(&p3)
		if f.ID == oldID {
			t.Errorf("new flow has the old ID %d", oldID)
		}
		if diff := cmp.Diff(rec.reasons(), []string{fmt.Sprintf("%d:timeout", oldID)}); diff != "" {
			t.Fatalf("ended (-got, +want):\n%s", diff)
		}
		if rec.ends[0].Flow.Pkts != [2]uint64{2, 0} {
			t.Errorf("ended flow Pkts %v, want [2 0]", rec.ends[0].Flow.Pkts)
		}
		// The new flow starts afresh, oriented by its own first packet.
		want := flowView{
			Client: "192.168.1.10:40000", Server: "93.184.216.34:53", State: "new",
			Pkts: [2]uint64{0, 1}, Bytes: [2]uint64{0, 118}, Data: [2]uint64{0, 90},
			First: 14*time.Second + 1, Last: 14*time.Second + 1, IP: 4,
		}
		if diff := cmp.Diff(viewOf(f), want); diff != "" {
			t.Errorf("new flow (-got, +want):\n%s", diff)
		}
		if dir != ToClient {
			t.Errorf("dir %d, want ToClient", dir)
		}
		if st := tb.Stats(); st.Created != 2 || tb.Len() != 1 {
			t.Errorf("Created %d Len %d, want 2 1", st.Created, tb.Len())
		}
		checkTable(t, tb)
	})
}

func TestTCPPortReuse(t *testing.T) {
	ms := time.Millisecond
	handshake := func() []capture.Packet {
		return []capture.Packet{
			tcp(cli4, 51000, srv4, 80, syn, 0, 0),
			tcp(srv4, 80, cli4, 51000, synAck, 1*ms, 0),
			tcp(cli4, 51000, srv4, 80, ack, 2*ms, 0),
		}
	}
	tests := []struct {
		name      string
		pkts      []capture.Packet
		wantEnds  []EndReason // of the first flow
		wantState State       // of the flow after the last packet
		wantHist  string
	}{
		{
			name: "syn on a flow closed by fin",
			pkts: append(handshake(),
				tcp(cli4, 51000, srv4, 80, finAck, 3*ms, 0),
				tcp(srv4, 80, cli4, 51000, finAck, 4*ms, 0),
				tcp(cli4, 51000, srv4, 80, syn, 500*ms, 0)),
			wantEnds: []EndReason{EndReuse}, wantState: StateNew, wantHist: "S",
		},
		{
			name: "syn after rst",
			pkts: append(handshake(),
				tcp(srv4, 80, cli4, 51000, rst, 3*ms, 0),
				tcp(cli4, 51000, srv4, 80, syn, 4*ms, 0),
				tcp(srv4, 80, cli4, 51000, synAck, 5*ms, 0)),
			wantEnds: []EndReason{EndReuse}, wantState: StateNew, wantHist: "Sh",
		},
		{
			name: "syn retransmission on an open flow",
			pkts: append(handshake(),
				tcp(cli4, 51000, srv4, 80, syn, 3*ms, 0)),
			wantState: StateEstablished, wantHist: "ShA",
		},
		{
			name: "syn-ack on a closed flow is not reuse",
			pkts: append(handshake(),
				tcp(srv4, 80, cli4, 51000, rst, 3*ms, 0),
				tcp(srv4, 80, cli4, 51000, synAck, 4*ms, 0)),
			wantState: StateClosed, wantHist: "ShAr",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			tb := NewTable(testConfig(), rec.onEnd)
			var f *Flow
			var firstID uint64
			for n := range tt.pkts {
				f, _ = tb.Update(&tt.pkts[n])
				if n == 0 {
					firstID = f.ID
				}
			}
			var reasons []EndReason
			for _, e := range rec.ends {
				if e.Flow.ID != firstID {
					t.Errorf("ended flow %d, want only %d", e.Flow.ID, firstID)
				}
				reasons = append(reasons, e.Reason)
			}
			if diff := cmp.Diff(reasons, tt.wantEnds); diff != "" {
				t.Errorf("ended (-got, +want):\n%s", diff)
			}
			if reused := len(tt.wantEnds) > 0; reused == (f.ID == firstID) {
				t.Errorf("flow ID %d, first flow %d, want reused %v", f.ID, firstID, reused)
			}
			if f.State != tt.wantState || f.HistoryString() != tt.wantHist {
				t.Errorf("state %v history %q, want %v %q", f.State, f.HistoryString(), tt.wantState, tt.wantHist)
			}
			if st := tb.Stats(); st.TCPReuse != uint64(len(tt.wantEnds)) {
				t.Errorf("TCPReuse %d, want %d", st.TCPReuse, len(tt.wantEnds))
			}
			checkTable(t, tb)
		})
	}
}

func TestMemcap(t *testing.T) {
	cfg := DefaultFlowConfig() // emergency udp.new: 10 s
	cfg.MaxFlows = 16          // recovery: under 70 %, i.e. 11 flows
	step := 100 * time.Millisecond
	flowPkt := func(n int) capture.Packet {
		return udp(cli4, uint16(40000+n), srv4, 53, time.Duration(n)*step, 30)
	}
	var rec recorder
	tb := NewTable(cfg, rec.onEnd)
	created := make(map[uint64]int) // ID → creation index
	var keys []Key
	for n := range 40 {
		p := flowPkt(n)
		f, _ := tb.Update(&p)
		created[f.ID] = n
		keys = append(keys, f.Key)
		if tb.Len() > cfg.MaxFlows {
			t.Fatalf("after flow %d: Len() %d > MaxFlows %d", n, tb.Len(), cfg.MaxFlows)
		}
		checkTable(t, tb)
	}
	st := tb.Stats()
	if st.Ended[EndForced] != 24 || st.EmergencyEntered < 1 || !st.Emergency || st.Peak != 16 || tb.Len() != 16 {
		t.Errorf("Stats(): forced %d EmergencyEntered %d Emergency %v Peak %d Len %d; want 24 ≥1 true 16 16",
			st.Ended[EndForced], st.EmergencyEntered, st.Emergency, st.Peak, tb.Len())
	}
	// The evicted flows are the oldest, oldest first.
	var gotOrder, wantOrder []int
	for n, e := range rec.ends {
		if e.Reason != EndForced {
			t.Errorf("end %d: reason %v, want forced", n, e.Reason)
		}
		i, ok := created[e.Flow.ID]
		if !ok || e.Flow.Key != keys[i] {
			t.Errorf("end %d: unknown flow ID %d key %+v", n, e.Flow.ID, e.Flow.Key)
		}
		gotOrder = append(gotOrder, i)
		wantOrder = append(wantOrder, n)
	}
	if diff := cmp.Diff(gotOrder, wantOrder); diff != "" {
		t.Errorf("evicted flows by creation index (-got, +want):\n%s", diff)
	}
	for n := 24; n < 40; n++ {
		p := flowPkt(n)
		if tb.Lookup(&p) == nil {
			t.Errorf("flow %d evicted, want it kept", n)
		}
	}

	// The emergency timeout (10 s) applies now.
	rec.ends = nil
	tb.Expire(t0 + int64(28*step+10*time.Second) + 1) // flows 24..28 idle: 11 left, not under 70 %
	if st := tb.Stats(); tb.Len() != 11 || !st.Emergency || len(rec.ends) != 5 {
		t.Errorf("after expiring 5: Len %d Emergency %v ended %d; want 11 true 5", tb.Len(), st.Emergency, len(rec.ends))
	}
	tb.Expire(t0 + int64(29*step+10*time.Second) + 1) // flow 29: 10 left, under 70 %
	if st := tb.Stats(); tb.Len() != 10 || st.Emergency || st.EmergencyEntered != 1 {
		t.Errorf("after expiring 6: Len %d Emergency %v EmergencyEntered %d; want 10 false 1", tb.Len(), st.Emergency, st.EmergencyEntered)
	}
	for _, e := range rec.ends {
		if e.Reason != EndTimeout {
			t.Errorf("flow %d: reason %v, want timeout", created[e.Flow.ID], e.Reason)
		}
	}
	checkTable(t, tb)

	// Back in normal mode the normal timeout (udp.new 30 s) applies again.
	tb.Expire(t0 + int64(39*step+29*time.Second))
	if tb.Len() != 10 {
		t.Errorf("normal mode: Len %d, want 10", tb.Len())
	}
	checkTable(t, tb)
}

// TestMemcapEvictsOldestAcrossLists fills the table with flows on different
// lists: eviction picks the least recently seen flow of them all.
func TestMemcapEvictsOldestAcrossLists(t *testing.T) {
	cfg := DefaultFlowConfig()
	cfg.MaxFlows = 16
	var rec recorder
	tb := NewTable(cfg, rec.onEnd)
	ms := time.Millisecond
	var ids []uint64
	for n := range 16 {
		var p capture.Packet
		switch n % 3 {
		case 0:
			p = tcp(cli4, uint16(50000+n), srv4, 443, syn, time.Duration(n)*ms, 0)
		case 1:
			p = udp(cli4, uint16(50000+n), srv4, 53, time.Duration(n)*ms, 30)
		default:
			p = icmp(cli4, ip4(10, 0, 0, byte(n)), 8, 0, time.Duration(n)*ms, 56)
		}
		f, _ := tb.Update(&p)
		ids = append(ids, f.ID)
	}
	// Refresh flows 0 and 1: flow 2 (ICMP) is now the least recently seen.
	p0 := tcp(cli4, 50000, srv4, 443, syn, 20*ms, 0)
	p1 := udp(cli4, 50001, srv4, 53, 21*ms, 30)
	tb.Update(&p0)
	tb.Update(&p1)
	for n := range 3 {
		p := udp(cli6, uint16(60000+n), srv6, 53, time.Duration(30+n)*ms, 30)
		tb.Update(&p)
	}
	var got []uint64
	for _, e := range rec.ends {
		got = append(got, e.Flow.ID)
	}
	if diff := cmp.Diff(got, []uint64{ids[2], ids[3], ids[4]}); diff != "" {
		t.Errorf("evicted IDs (-got, +want):\n%s", diff)
	}
	checkTable(t, tb)
}

// mixedTraffic is a scenario over every protocol class and state: 15 flows.
func mixedTraffic() []capture.Packet {
	ms := time.Millisecond
	var pkts []capture.Packet
	for n := range 5 {
		cp := uint16(51000 + n)
		base := time.Duration(n) * 10 * ms
		pkts = append(pkts,
			tcp(cli4, cp, srv4, 443, syn, base, 0),
			tcp(srv4, 443, cli4, cp, synAck, base+1*ms, 0),
			udp(cli6, cp, srv6, 53, base+2*ms, 40),
			icmp(cli4, ip4(10, 9, 8, byte(n)), 8, 0, base+3*ms, 56),
		)
		if n%2 == 0 {
			pkts = append(pkts,
				tcp(cli4, cp, srv4, 443, ack, base+4*ms, 0),
				udp(srv6, 53, cli6, cp, base+5*ms, 120),
			)
		}
		if n == 4 {
			pkts = append(pkts, tcp(srv4, 443, cli4, cp, rst, base+6*ms, 0))
		}
	}
	return pkts
}

func TestFlushDeterministic(t *testing.T) {
	run := func() ([]endRecord, TableStats) {
		var rec recorder
		tb := NewTable(testConfig(), rec.onEnd)
		pkts := mixedTraffic()
		for n := range pkts {
			tb.Update(&pkts[n])
		}
		checkTable(t, tb)
		if tb.Len() != 15 {
			t.Fatalf("Len() before Flush = %d, want 15", tb.Len())
		}
		tb.Flush(EndShutdown)
		checkTable(t, tb)
		return rec.ends, tb.Stats()
	}
	ends1, st1 := run()
	ends2, st2 := run()
	summary := func(ends []endRecord) []string {
		var s []string
		for _, e := range ends {
			s = append(s, fmt.Sprintf("%d %v %v proto %d %v:%d-%v:%d",
				e.Flow.ID, e.Reason, e.Flow.State, e.Flow.Key.Proto, e.Flow.Key.A, e.Flow.Key.APort, e.Flow.Key.B, e.Flow.Key.BPort))
		}
		return s
	}
	if diff := cmp.Diff(summary(ends1), summary(ends2)); diff != "" {
		t.Errorf("second run's Flush sequence (-first, +second):\n%s", diff)
	}
	if diff := cmp.Diff(st1, st2); diff != "" {
		t.Errorf("second run's stats (-first, +second):\n%s", diff)
	}
	if st1.Active != 0 || st1.Ended[EndShutdown] != 15 || st1.Emergency {
		t.Errorf("after Flush: Active %d Ended[shutdown] %d Emergency %v", st1.Active, st1.Ended[EndShutdown], st1.Emergency)
	}
	// The order: by (protocol class, state) list, least recently seen first.
	lastList, lastSeen := -1, int64(0)
	for _, e := range ends1 {
		if e.Reason != EndShutdown {
			t.Errorf("flow %d: reason %v, want shutdown", e.Flow.ID, e.Reason)
		}
		l := classOf(e.Flow.Key.Proto)*3 + int(e.Flow.State)
		if l < lastList || (l == lastList && e.Flow.Last < lastSeen) {
			t.Errorf("flow %d (list %d, last %d) flushed after list %d last %d", e.Flow.ID, l, e.Flow.Last, lastList, lastSeen)
		}
		lastList, lastSeen = l, e.Flow.Last
	}
}

func TestPacketTimeBackwards(t *testing.T) {
	cfg := testConfig() // udp.new 7 s, udp.established 70 s
	t.Run("older packet does not expire the flow", func(t *testing.T) {
		var rec recorder
		tb := NewTable(cfg, rec.onEnd)
		p := udp(cli4, 40000, srv4, 53, 100*time.Second, 30)
		f, _ := tb.Update(&p)
		id := f.ID
		// From a capture merged in that runs 90 s behind: idle for a negative time.
		late := udp(srv4, 53, cli4, 40000, 10*time.Second, 90)
		f, dir := tb.Update(&late)
		if f.ID != id || len(rec.ends) != 0 {
			t.Fatalf("late packet: ID %d (want %d), ended %v", f.ID, id, rec.reasons())
		}
		if dir != ToClient || f.Pkts != [2]uint64{1, 1} || f.State != StateEstablished {
			t.Errorf("late packet: dir %d Pkts %v State %v, want ToClient [1 1] established", dir, f.Pkts, f.State)
		}
		if f.Last != t0+int64(100*time.Second) || f.First != t0+int64(100*time.Second) {
			t.Errorf("First, Last = %v, %v; want both 100 s", time.Duration(f.First-t0), time.Duration(f.Last-t0))
		}
		tb.Expire(t0 + int64(20*time.Second)) // a clock behind the flow
		if tb.Len() != 1 {
			t.Errorf("Expire with an earlier clock ended the flow")
		}
		tb.Expire(t0 + int64(170*time.Second) + 1)
		if diff := cmp.Diff(rec.reasons(), []string{fmt.Sprintf("%d:timeout", id)}); diff != "" {
			t.Errorf("ended (-got, +want):\n%s", diff)
		}
		checkTable(t, tb)
	})

	t.Run("late packet does not hide an idle flow from Expire", func(t *testing.T) {
		var rec recorder
		tb := NewTable(cfg, rec.onEnd)
		x := udp(cli4, 40000, srv4, 53, 10*time.Second, 30)
		y := udp(cli4, 40001, srv4, 53, 15*time.Second, 30)
		xLate := udp(cli4, 40000, srv4, 53, 5*time.Second, 30) // merged capture, behind x
		fx, _ := tb.Update(&x)
		xID := fx.ID
		tb.Update(&y)
		tb.Update(&xLate)
		tb.Expire(t0 + int64(17*time.Second) + 1) // x idle 7 s + 1 ns since its Last (10 s); y only 2 s
		if diff := cmp.Diff(rec.reasons(), []string{fmt.Sprintf("%d:timeout", xID)}); diff != "" {
			t.Errorf("ended (-got, +want):\n%s", diff)
		}
		checkTable(t, tb)
	})
}

// TestFragmentWireAccounting: the table adds the wire packets and bytes a
// delivered packet stands for (capture.Packet.WirePkts/WireBytes). A
// reassembled datagram whose first fragment came on its own carries only
// the other fragments, so nothing is counted twice.
func TestFragmentWireAccounting(t *testing.T) {
	tb := NewTable(testConfig(), nil)
	first := udp(cli4, 40000, srv4, 4500, 0, 0)
	first.Flags, first.IPLen, first.WirePkts, first.WireBytes = capture.FlagFirstFragment, 1500, 1, 1500
	whole := udp(cli4, 40000, srv4, 4500, time.Millisecond, 2972)
	whole.Flags = capture.FlagReassembled | capture.FlagFragTail
	whole.WirePkts, whole.WireBytes = 2, 1520
	tb.Update(&first)
	f, _ := tb.Update(&whole)
	if f.Pkts != [2]uint64{3, 0} || f.Bytes != [2]uint64{3020, 0} || f.Data != [2]uint64{2972, 0} {
		t.Errorf("Pkts %v Bytes %v Data %v; want [3 0] [3020 0] [2972 0]", f.Pkts, f.Bytes, f.Data)
	}
	if f.Last != t0+int64(time.Millisecond) {
		t.Errorf("Last = %v, want 1 ms: the tail still refreshes the flow", time.Duration(f.Last-t0))
	}
	if st := tb.Stats(); st.Packets != 2 || st.Created != 1 {
		t.Errorf("Stats(): Packets %d Created %d, want 2 1", st.Packets, st.Created)
	}
	checkTable(t, tb)
}

func TestLookup(t *testing.T) {
	tb := NewTable(testConfig(), nil)
	p := tcp(cli4, 51000, srv4, 80, syn, 0, 0)
	if tb.Lookup(&p) != nil {
		t.Fatal("Lookup on an empty table found a flow")
	}
	f, _ := tb.Update(&p)
	r := reversed(p)
	r.Timestamp += int64(time.Hour) // Lookup never expires anything
	if got := tb.Lookup(&r); got != f {
		t.Errorf("Lookup(reverse) = %p, want %p", got, f)
	}
	if f.Pkts != [2]uint64{1, 0} || tb.Stats().Packets != 1 || tb.Len() != 1 {
		t.Error("Lookup changed the flow, the table or the counters")
	}
	checkTable(t, tb)
}

// TestSlotReuse ends and creates many flows: slots are recycled, IDs stay
// unique and the table stays consistent.
func TestSlotReuse(t *testing.T) {
	var rec recorder
	tb := NewTable(testConfig(), rec.onEnd)
	for round := range 5 {
		for n := range 3000 {
			p := udp(cli6, uint16(n), srv6, 53, time.Duration(round)*time.Minute+time.Duration(n)*time.Microsecond, 10)
			tb.Update(&p)
		}
		tb.Expire(t0 + int64(time.Duration(round)*time.Minute+30*time.Second))
		checkTable(t, tb)
	}
	if tb.Len() != 0 || len(rec.ends) != 15000 {
		t.Errorf("Len %d ended %d, want 0 15000", tb.Len(), len(rec.ends))
	}
	if tb.nextSlot > 3001 {
		t.Errorf("slots handed out: %d, want at most 3000 (reuse)", tb.nextSlot-1)
	}
	ids := make(map[uint64]bool)
	for _, e := range rec.ends {
		if ids[e.Flow.ID] {
			t.Errorf("duplicate flow ID %d", e.Flow.ID)
		}
		ids[e.Flow.ID] = true
	}
}

func TestUpdateExistingFlowDoesNotAllocate(t *testing.T) {
	tb := NewTable(testConfig(), nil)
	pkts := []capture.Packet{
		tcp(cli4, 51000, srv4, 443, syn, 0, 0),
		tcp(srv4, 443, cli4, 51000, synAck, 1, 0),
		tcp(cli4, 51000, srv4, 443, ack, 2, 0),
		tcp(cli4, 51000, srv4, 443, pshAck, 3, 517),
		tcp(srv4, 443, cli4, 51000, pshAck, 4, 1400),
		udp(cli6, 40000, srv6, 53, 5, 30),
		udp(srv6, 53, cli6, 40000, 6, 90),
		icmp(cli4, srv4, 8, 0, 7, 56),
		icmp(srv4, cli4, 0, 0, 8, 56),
	}
	for n := range pkts { // warm up: create the flows
		tb.Update(&pkts[n])
	}
	created := tb.Stats().Created
	now := t0 + 10
	steady := pkts[3:]
	allocs := testing.AllocsPerRun(1000, func() {
		for n := range steady {
			now++
			steady[n].Timestamp = now
			tb.Update(&steady[n])
		}
	})
	if allocs != 0 {
		t.Errorf("Update of existing flows: %v allocs per run, want 0", allocs)
	}
	allocs = testing.AllocsPerRun(1000, func() {
		for n := range pkts {
			if tb.Lookup(&pkts[n]) == nil {
				panic("flow not found")
			}
		}
	})
	if allocs != 0 {
		t.Errorf("Lookup: %v allocs per run, want 0", allocs)
	}
	if st := tb.Stats(); st.Created != created || tb.Len() != 3 {
		t.Errorf("Created %d Len %d, want %d 3: the loops must hit existing flows", st.Created, tb.Len(), created)
	}
	checkTable(t, tb)
}

func TestNames(t *testing.T) {
	if diff := cmp.Diff(EndReasonNames(), []string{"timeout", "forced", "shutdown", "reuse"}); diff != "" {
		t.Errorf("EndReasonNames() (-got, +want):\n%s", diff)
	}
	got := []string{StateNew.String(), StateEstablished.String(), StateClosed.String(), State(9).String(), EndReason(9).String()}
	if diff := cmp.Diff(got, []string{"new", "established", "closed", "unknown", "unknown"}); diff != "" {
		t.Errorf("names (-got, +want):\n%s", diff)
	}
}
