package dns

import (
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nunchi-sensor/nunchi/detect"
)

type collector struct{ got []detect.DNS }

func (c *collector) emit(e *detect.Event) {
	if e.Type != detect.TypeDNS || e.DNS == nil {
		panic("bad event")
	}
	c.got = append(c.got, *e.DNS)
}

var (
	wantQuery  = detect.DNS{Type: "query", ID: 0x1234, RRName: "www.example.com", RRType: "A"}
	wantAnswer = detect.DNS{Type: "answer", ID: 0x1234, RRName: "www.example.com", RRType: "A", RCode: "NOERROR", Answers: []detect.DNSAnswer{
		{RRName: "www.example.com", RRType: "CNAME", TTL: 300, RData: "cdn.example.com"},
		{RRName: "cdn.example.com", RRType: "A", TTL: 60, RData: "192.0.2.1"},
		{RRName: "cdn.example.com", RRType: "A", TTL: 60, RData: "192.0.2.2"},
	}}
)

func tcpFrame(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
		b = append(b, m...)
	}
	return b
}

func TestDatagram(t *testing.T) {
	var c collector
	p := NewParser(c.emit)
	if v := p.Datagram(detect.ToServer, exampleQuery(), 1); v != detect.NeedMore {
		t.Fatalf("verdict %v", v)
	}
	p.Datagram(detect.ToClient, exampleAnswer(), 2)
	p.Datagram(detect.ToClient, exampleAnswer(), 3) // duplicate: reported too
	p.Datagram(detect.ToClient, []byte{1, 2, 3}, 4) // malformed: ignored
	nx := newMsg(0x1234, 0x8183, 1, 0, 0, 0).name("www.example.com").u16(TypeA, 1).b
	p.Datagram(detect.ToClient, nx, 5)
	p.Close(6)
	nxWant := detect.DNS{Type: "answer", ID: 0x1234, RRName: "www.example.com", RRType: "A", RCode: "NXDOMAIN"}
	if diff := cmp.Diff(c.got, []detect.DNS{wantQuery, wantAnswer, wantAnswer, nxWant}); diff != "" {
		t.Errorf("events (-got, +want):\n%s", diff)
	}
}

func TestAnswerWithoutQuestion(t *testing.T) {
	var c collector
	p := NewParser(c.emit)
	p.Datagram(detect.ToServer, newMsg(77, 0x0100, 1, 0, 0, 0).name("other.example").u16(TypeAAAA, 1).b, 1)
	p.Datagram(detect.ToServer, exampleQuery(), 1)
	// An answer with an empty question section: the question comes from
	// the outstanding query with its ID.
	a := newMsg(0x1234, 0x8180, 0, 1, 0, 0).name("www.example.com").rr(TypeA, 5, []byte{192, 0, 2, 9}).b
	p.Datagram(detect.ToClient, a, 2)
	// Once used, the entry is gone.
	p.Datagram(detect.ToClient, a, 3)
	want := []detect.DNS{
		{Type: "query", ID: 77, RRName: "other.example", RRType: "AAAA"},
		wantQuery,
		{Type: "answer", ID: 0x1234, RRName: "www.example.com", RRType: "A", RCode: "NOERROR", Answers: []detect.DNSAnswer{{RRName: "www.example.com", RRType: "A", TTL: 5, RData: "192.0.2.9"}}},
		{Type: "answer", ID: 0x1234, RCode: "NOERROR", Answers: []detect.DNSAnswer{{RRName: "www.example.com", RRType: "A", TTL: 5, RData: "192.0.2.9"}}},
	}
	if diff := cmp.Diff(c.got, want); diff != "" {
		t.Errorf("events (-got, +want):\n%s", diff)
	}
}

func TestDatagramNotMine(t *testing.T) {
	p := NewParser(func(*detect.Event) { t.Fatal("event") })
	if v := p.Datagram(detect.ToServer, []byte("\x17\xfe\xfd\x00\x01\x00\x00\x00\x00\x00\x01\x00\x20xxxxxxxx"), 1); v != detect.NotMine {
		t.Fatalf("verdict %v", v)
	}
}

func TestDatagramBound(t *testing.T) {
	var c collector
	p := NewParser(c.emit)
	for i := range MaxUDPMessages + 50 {
		q := withID(exampleQuery(), uint16(i))
		if v := p.Datagram(detect.ToServer, q, 1); v != detect.NeedMore {
			t.Fatalf("verdict %v", v)
		}
	}
	if len(c.got) != MaxUDPMessages {
		t.Fatalf("%d events", len(c.got))
	}
}

// TestStreamSplit: two messages in one TCP stream, cut at every offset
// (and fed a byte at a time), give the same events.
func TestStreamSplit(t *testing.T) {
	q := tcpFrame(exampleQuery(), withID(exampleQuery(), 7))
	a := tcpFrame(exampleAnswer())
	run := func(qs, as [][]byte) []detect.DNS {
		var c collector
		p := NewParser(c.emit)
		for _, b := range qs {
			if v := p.Data(detect.ToServer, b, 1); v != detect.NeedMore {
				t.Fatalf("verdict %v", v)
			}
		}
		for _, b := range as {
			if v := p.Data(detect.ToClient, b, 2); v != detect.NeedMore {
				t.Fatalf("verdict %v", v)
			}
		}
		p.Close(3)
		return c.got
	}
	tq, ta := wantQuery, wantAnswer
	tq.TCP, ta.TCP = true, true
	tq7 := tq
	tq7.ID = 7
	want := []detect.DNS{tq, tq7, ta}
	for cut := range len(q) + 1 {
		if diff := cmp.Diff(run([][]byte{q[:cut], q[cut:]}, [][]byte{a}), want); diff != "" {
			t.Fatalf("query stream cut at %d (-got, +want):\n%s", cut, diff)
		}
	}
	for cut := range len(a) + 1 {
		if diff := cmp.Diff(run([][]byte{q}, [][]byte{a[:cut], a[cut:]}), want); diff != "" {
			t.Fatalf("answer stream cut at %d (-got, +want):\n%s", cut, diff)
		}
	}
	var qs, as [][]byte
	for i := range q {
		qs = append(qs, q[i:i+1])
	}
	for i := range a {
		as = append(as, a[i:i+1])
	}
	if diff := cmp.Diff(run(qs, as), want); diff != "" {
		t.Fatalf("byte at a time (-got, +want):\n%s", diff)
	}
}

func TestStreamVerdicts(t *testing.T) {
	t.Run("not DNS", func(t *testing.T) {
		p := NewParser(func(*detect.Event) { t.Fatal("event") })
		if v := p.Data(detect.ToServer, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 1); v != detect.NotMine {
			t.Fatalf("verdict %v", v)
		}
	})
	t.Run("implausible header before the message is complete", func(t *testing.T) {
		p := NewParser(func(*detect.Event) { t.Fatal("event") })
		if v := p.Data(detect.ToServer, []byte("\xff\xff\x00\x01\xf8\x00\xff\xff\x00\x00\x00\x00\x00\x00"), 1); v != detect.NotMine {
			t.Fatalf("verdict %v", v)
		}
	})
	t.Run("done after MaxTCPMessages", func(t *testing.T) {
		var c collector
		p := NewParser(c.emit)
		var v detect.Verdict
		for i := 0; i < MaxTCPMessages+5 && v == detect.NeedMore; i++ {
			v = p.Data(detect.ToServer, tcpFrame(withID(exampleQuery(), uint16(i))), 1)
		}
		if v != detect.Done || len(c.got) != MaxTCPMessages {
			t.Fatalf("verdict %v, %d events", v, len(c.got))
		}
	})
	t.Run("gap", func(t *testing.T) {
		var c collector
		p := NewParser(c.emit)
		p.Data(detect.ToServer, tcpFrame(exampleQuery()), 1)
		if v := p.Gap(detect.ToClient, 10, 2); v != detect.Done {
			t.Fatalf("verdict %v", v)
		}
		if v := p.Data(detect.ToClient, tcpFrame(exampleAnswer()), 3); v != detect.Done || len(c.got) != 1 {
			t.Fatalf("verdict %v, %d events", v, len(c.got))
		}
	})
	t.Run("gap first", func(t *testing.T) {
		p := NewParser(func(*detect.Event) {})
		if v := p.Gap(detect.ToServer, 10, 1); v != detect.NotMine {
			t.Fatalf("verdict %v", v)
		}
	})
}

// TestDatagramAllocs: without an arena a query costs its event, its DNS
// object and the question name; with one, a slab now and then.
func TestDatagramAllocs(t *testing.T) {
	p := NewParser(func(*detect.Event) {})
	q := exampleQuery()
	allocs := testing.AllocsPerRun(100, func() { p.Datagram(detect.ToServer, q, 1) })
	if allocs > 3 {
		t.Fatalf("%v allocs per query", allocs)
	}
	p.UseArena(&detect.Arena{})
	if allocs := testing.AllocsPerRun(1000, func() { p.Datagram(detect.ToServer, q, 1) }); allocs > 0.1 {
		t.Fatalf("%v allocs per query with an arena", allocs)
	}
	junk := []byte("not a dns message at all, no sir")
	if allocs := testing.AllocsPerRun(100, func() { p.Datagram(detect.ToServer, junk, 1) }); allocs != 0 {
		t.Fatalf("%v allocs per malformed datagram", allocs)
	}
}

// withID returns a copy of a DNS message with another transaction ID.
func withID(m []byte, id uint16) []byte {
	m = append([]byte(nil), m...)
	m[0], m[1] = byte(id>>8), byte(id)
	return m
}

// TestQueryRetransmission: the same query again before its answer is a
// retransmission: counted, not reported twice; after the answer it is new.
func TestQueryRetransmission(t *testing.T) {
	var c collector
	p := NewParser(c.emit)
	p.Datagram(detect.ToServer, exampleQuery(), 1)
	p.Datagram(detect.ToServer, exampleQuery(), 2)
	if len(c.got) != 1 || p.Retransmissions != 1 {
		t.Fatalf("%d events, %d retransmissions; want 1 and 1", len(c.got), p.Retransmissions)
	}
	p.Datagram(detect.ToClient, exampleAnswer(), 3)
	p.Datagram(detect.ToServer, exampleQuery(), 4)
	if len(c.got) != 3 {
		t.Fatalf("%d events after answer and a new query, want 3", len(c.got))
	}
}
