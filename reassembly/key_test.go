package reassembly

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nunchi-sensor/nunchi/capture"
)

// reversed returns p as it would travel the other way (addresses and ports
// swapped). For ICMP the "ports" are type and code, so callers build the
// reply by hand instead.
func reversed(p capture.Packet) capture.Packet {
	p.Src, p.Dst = p.Dst, p.Src
	p.SrcPort, p.DstPort = p.DstPort, p.SrcPort
	return p
}

func TestKeyOfCanonical(t *testing.T) {
	lo4, hi4 := ip4(10, 0, 0, 1), ip4(10, 0, 0, 2)
	lo6, hi6 := ip6("2001:db8::1"), ip6("2001:db8::2")
	tests := []struct {
		name     string
		fwd, rev capture.Packet // the two directions of one conversation
		want     Key            // canonical key
		fwdAToB  bool           // direction of fwd
	}{
		{
			name:    "tcp4 low to high",
			fwd:     tcp(lo4, 51000, hi4, 443, capture.TCPSyn, 0, 0),
			rev:     tcp(hi4, 443, lo4, 51000, capture.TCPSyn|capture.TCPAck, 0, 0),
			want:    Key{A: lo4, B: hi4, APort: 51000, BPort: 443, Proto: capture.ProtoTCP},
			fwdAToB: true,
		},
		{
			name:    "tcp4 high to low",
			fwd:     tcp(hi4, 51000, lo4, 443, capture.TCPSyn, 0, 0),
			rev:     tcp(lo4, 443, hi4, 51000, capture.TCPSyn|capture.TCPAck, 0, 0),
			want:    Key{A: lo4, B: hi4, APort: 443, BPort: 51000, Proto: capture.ProtoTCP},
			fwdAToB: false,
		},
		{
			name:    "udp6",
			fwd:     udp(hi6, 40000, lo6, 53, 0, 30),
			rev:     udp(lo6, 53, hi6, 40000, 0, 90),
			want:    Key{A: lo6, B: hi6, APort: 53, BPort: 40000, Proto: capture.ProtoUDP},
			fwdAToB: false,
		},
		{
			// Equal addresses: the smaller port is A.
			name:    "same address",
			fwd:     udp(lo4, 6000, lo4, 5000, 0, 1),
			rev:     udp(lo4, 5000, lo4, 6000, 0, 1),
			want:    Key{A: lo4, B: lo4, APort: 5000, BPort: 6000, Proto: capture.ProtoUDP},
			fwdAToB: false,
		},
		{
			name:    "icmp4 echo request/reply",
			fwd:     icmp(hi4, lo4, 8, 0, 0, 56),
			rev:     icmp(lo4, hi4, 0, 0, 0, 56),
			want:    Key{A: lo4, B: hi4, APort: 8, BPort: 8, Proto: capture.ProtoICMP},
			fwdAToB: false,
		},
		{
			name:    "icmp4 timestamp request/reply",
			fwd:     icmp(lo4, hi4, 13, 0, 0, 12),
			rev:     icmp(hi4, lo4, 14, 0, 0, 12),
			want:    Key{A: lo4, B: hi4, APort: 13, BPort: 13, Proto: capture.ProtoICMP},
			fwdAToB: true,
		},
		{
			name:    "icmp6 echo request/reply",
			fwd:     icmp(lo6, hi6, 128, 0, 0, 56),
			rev:     icmp(hi6, lo6, 129, 0, 0, 56),
			want:    Key{A: lo6, B: hi6, APort: 128, BPort: 128, Proto: capture.ProtoICMPv6},
			fwdAToB: true,
		},
		{
			name:    "icmp6 neighbour solicitation/advertisement",
			fwd:     icmp(hi6, lo6, 135, 0, 0, 24),
			rev:     icmp(lo6, hi6, 136, 0, 0, 24),
			want:    Key{A: lo6, B: hi6, APort: 135, BPort: 135, Proto: capture.ProtoICMPv6},
			fwdAToB: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kf, af := KeyOf(&tt.fwd, false)
			kr, ar := KeyOf(&tt.rev, false)
			if diff := cmp.Diff(kf, tt.want); diff != "" {
				t.Errorf("KeyOf(fwd) (-got, +want):\n%s", diff)
			}
			if diff := cmp.Diff(kr, tt.want); diff != "" {
				t.Errorf("KeyOf(rev) (-got, +want):\n%s", diff)
			}
			if af != tt.fwdAToB {
				t.Errorf("KeyOf(fwd) aToB = %v, want %v", af, tt.fwdAToB)
			}
			if ar == af {
				t.Errorf("KeyOf(rev) aToB = %v, want the opposite of fwd", ar)
			}
			if hf, hr := kf.Hash(), kr.Hash(); hf != hr {
				t.Errorf("Hash() fwd %#x != rev %#x", hf, hr)
			}
			if hf, hr := HashPacket(&tt.fwd, false), HashPacket(&tt.rev, false); hf != hr || hf != kf.Hash() {
				t.Errorf("HashPacket() fwd %#x, rev %#x, want both %#x", hf, hr, kf.Hash())
			}
		})
	}
}

func TestKeyOfICMPDistinctExchanges(t *testing.T) {
	a, b := ip4(192, 0, 2, 1), ip4(192, 0, 2, 2)
	echo := icmp(a, b, 8, 0, 0, 56)
	ts := icmp(a, b, 13, 0, 0, 12)
	unreach := icmp(b, a, 3, 1, 0, 28)
	ke, _ := KeyOf(&echo, false)
	kt, _ := KeyOf(&ts, false)
	ku, _ := KeyOf(&unreach, false)
	if ke == kt || ke == ku || kt == ku {
		t.Errorf("echo, timestamp and unreachable share a key: %+v %+v %+v", ke, kt, ku)
	}
	// The code does not split an exchange.
	unreach2 := icmp(b, a, 3, 3, 0, 28)
	if ku2, _ := KeyOf(&unreach2, false); ku2 != ku {
		t.Errorf("unreachable code 1 and 3: keys differ: %+v vs %+v", ku, ku2)
	}
}

func TestKeyOfVLAN(t *testing.T) {
	a, b := ip4(10, 1, 1, 1), ip4(10, 1, 1, 2)
	p := udp(a, 40000, b, 53, 0, 10)
	p.VLANs, p.NumVLANs = [2]uint16{100, 200}, 2
	q := reversed(p)
	other := p
	other.VLANs = [2]uint16{101, 200}
	single := p
	single.VLANs, single.NumVLANs = [2]uint16{100, 0}, 1

	tests := []struct {
		name     string
		withVLAN bool
		pkt      capture.Packet
		wantVLAN uint32
	}{
		{"off", false, p, 0},
		{"off reversed", false, q, 0},
		{"off other vlan", false, other, 0},
		{"on", true, p, 100<<12 | 200},
		{"on reversed", true, q, 100<<12 | 200},
		{"on other vlan", true, other, 101<<12 | 200},
		{"on single tag", true, single, 100 << 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, _ := KeyOf(&tt.pkt, tt.withVLAN)
			if k.VLAN != tt.wantVLAN {
				t.Errorf("KeyOf().VLAN = %#x, want %#x", k.VLAN, tt.wantVLAN)
			}
		})
	}

	t.Run("separates flows only when on", func(t *testing.T) {
		for _, withVLAN := range []bool{false, true} {
			kp, _ := KeyOf(&p, withVLAN)
			ko, _ := KeyOf(&other, withVLAN)
			if same := kp == ko; same == withVLAN {
				t.Errorf("withVLAN=%v: same key for VLAN 100 and 101 = %v", withVLAN, same)
			}
			if same := kp.Hash() == ko.Hash(); same == withVLAN {
				t.Errorf("withVLAN=%v: same hash for VLAN 100 and 101 = %v", withVLAN, same)
			}
		}
	})

	t.Run("table", func(t *testing.T) {
		for _, withVLAN := range []bool{false, true} {
			cfg := testConfig()
			cfg.VLANInKey = withVLAN
			tb := NewTable(cfg, nil)
			tb.Update(&p)
			tb.Update(&q)
			tb.Update(&other)
			want := 1
			if withVLAN {
				want = 2
			}
			if tb.Len() != want {
				t.Errorf("VLANInKey=%v: Len() = %d, want %d", withVLAN, tb.Len(), want)
			}
			checkTable(t, tb)
		}
	})
}

func TestKeyHashSpreads(t *testing.T) {
	base := Key{A: ip4(10, 0, 0, 1), B: ip4(10, 0, 0, 2), APort: 1000, BPort: 2000, Proto: capture.ProtoTCP}
	variants := map[string]Key{"base": base}
	k := base
	k.Proto = capture.ProtoUDP
	variants["proto"] = k
	k = base
	k.APort, k.BPort = base.BPort, base.APort
	variants["ports swapped"] = k
	k = base
	k.APort++
	variants["aport+1"] = k
	k = base
	k.BPort++
	variants["bport+1"] = k
	k = base
	k.VLAN = 1
	variants["vlan"] = k
	k = base
	k.A[15] ^= 1
	variants["a changed"] = k
	k = base
	k.B[0] ^= 0x80
	variants["b changed"] = k
	k = base
	k.A, k.B = ip6("2001:db8::1"), ip6("2001:db8::2")
	variants["v6"] = k

	seen := make(map[uint64]string)
	for name, k := range variants {
		h := k.Hash()
		if prev, ok := seen[h]; ok {
			t.Errorf("Hash(%s) == Hash(%s) = %#x", name, prev, h)
		}
		seen[h] = name
	}
}

// TestKeyIsPointerFree guards the property that keeps a map of millions of
// keys out of the GC's scan work.
func TestKeyIsPointerFree(t *testing.T) {
	var check func(reflect.Type, string)
	check = func(ty reflect.Type, path string) {
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.String, reflect.Interface,
			reflect.Chan, reflect.Func, reflect.UnsafePointer:
			t.Errorf("%s: %v holds a pointer", path, ty)
		case reflect.Array:
			check(ty.Elem(), path+"[]")
		case reflect.Struct:
			for i := range ty.NumField() {
				check(ty.Field(i).Type, path+"."+ty.Field(i).Name)
			}
		}
	}
	check(reflect.TypeOf(Key{}), "Key")
	check(reflect.TypeOf(Flow{}), "Flow")
	if !reflect.TypeOf(Key{}).Comparable() {
		t.Error("Key is not comparable")
	}
}
