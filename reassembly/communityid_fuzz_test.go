package reassembly

import (
	"bytes"
	"encoding/base64"
	"net/netip"
	"testing"
)

// FuzzCommunityID checks that AppendCommunityID never panics, whatever the
// address lengths, always renders a well-formed v1 ID, agrees with
// CommunityID, and is symmetric: the same flow seen from the other endpoint
// (for two-way ICMP types, the counterpart message) gets the same ID.
func FuzzCommunityID(f *testing.F) {
	for _, v := range append(append([]communityIDVector(nil), communityIDReadmeVectors...), communityIDPcapVectors...) {
		f.Add(uint16(0), v.proto, netip.MustParseAddr(v.src).AsSlice(), netip.MustParseAddr(v.dst).AsSlice(), v.sport, v.dport)
	}
	f.Add(uint16(1), uint8(6), []byte{}, []byte{1, 2, 3}, uint16(1), uint16(2))
	f.Add(uint16(0xffff), uint8(255), bytes.Repeat([]byte{0xaa}, 33), []byte(nil), uint16(0xffff), uint16(0))
	f.Add(uint16(0), uint8(1), []byte{1, 2, 3, 4}, []byte{1, 2, 3, 4}, uint16(3), uint16(3))

	f.Fuzz(func(t *testing.T, seed uint16, proto uint8, src, dst []byte, sport, dport uint16) {
		id := AppendCommunityID(nil, seed, proto, src, dst, sport, dport)
		if len(id) != communityIDLen || !bytes.HasPrefix(id, []byte(communityIDPrefix)) {
			t.Fatalf("malformed ID %q", id)
		}
		if raw, err := base64.StdEncoding.DecodeString(string(id[len(communityIDPrefix):])); err != nil || len(raw) != 20 {
			t.Fatalf("ID %q: bad base64 digest (%d bytes, %v)", id, len(raw), err)
		}
		if s := CommunityID(seed, proto, src, dst, sport, dport); s != string(id) {
			t.Fatalf("CommunityID = %s, AppendCommunityID = %s", s, id)
		}

		// The reverse direction of the same flow.
		rsport, rdport := dport, sport
		if proto == communityIDProtoICMP || proto == communityIDProtoICMPv6 {
			peer, ok := communityIDICMPCounterpart(proto, sport)
			if !ok {
				return // one-way: direction is part of the ID
			}
			rsport, rdport = peer, dport // the code is not hashed for two-way types
		}
		rev := AppendCommunityID(nil, seed, proto, dst, src, rsport, rdport)
		if !bytes.Equal(rev, id) {
			t.Fatalf("not symmetric: %s forward, %s reversed", id, rev)
		}
	})
}
