package capture

import "testing"

func TestSpanDedup(t *testing.T) {
	if NewSpanDedup(0) != nil {
		t.Fatal("window 0 must turn dedup off")
	}
	var off *SpanDedup
	p := Packet{Timestamp: 1000, Proto: ProtoTCP, SrcPort: 1, DstPort: 2, IPID: 7, Payload: []byte("hello"), PayloadLen: 5}
	if off.Duplicate(&p) {
		t.Fatal("nil dedup reported a duplicate")
	}
	d := NewSpanDedup(1000)
	if d.Duplicate(&p) {
		t.Fatal("first copy dropped")
	}
	q := p
	q.TTL = 63 // the routed copy: TTL differs, identity does not
	q.Timestamp += 500
	if !d.Duplicate(&q) {
		t.Error("second copy within the window kept")
	}
	r := p
	r.Timestamp += 5000
	if d.Duplicate(&r) {
		t.Error("a copy after the window dropped")
	}
	s := r
	s.Payload, s.Timestamp = []byte("hellO"), r.Timestamp+1
	if d.Duplicate(&s) {
		t.Error("a different payload dropped")
	}
	u := r
	u.IPID, u.Timestamp = 8, r.Timestamp+1
	if d.Duplicate(&u) {
		t.Error("a different IP ID dropped")
	}
	if d.Dropped != 1 {
		t.Errorf("Dropped = %d, want 1", d.Dropped)
	}
}
