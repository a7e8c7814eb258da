package dns

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nunchi-sensor/nunchi/detect"
)

// msgBuilder builds test messages by hand.
type msgBuilder struct{ b []byte }

func newMsg(id, flags, qd, an, ns, ar uint16) *msgBuilder {
	m := &msgBuilder{}
	for _, v := range []uint16{id, flags, qd, an, ns, ar} {
		m.b = binary.BigEndian.AppendUint16(m.b, v)
	}
	return m
}

// name appends an uncompressed name ("" = root).
func (m *msgBuilder) name(s string) *msgBuilder {
	if s != "" {
		for _, l := range strings.Split(s, ".") {
			m.b = append(m.b, byte(len(l)))
			m.b = append(m.b, l...)
		}
	}
	m.b = append(m.b, 0)
	return m
}

// labels appends labels then a pointer to off.
func (m *msgBuilder) ptr(off int, labels ...string) *msgBuilder {
	for _, l := range labels {
		m.b = append(m.b, byte(len(l)))
		m.b = append(m.b, l...)
	}
	m.b = binary.BigEndian.AppendUint16(m.b, 0xc000|uint16(off))
	return m
}

func (m *msgBuilder) u16(v ...uint16) *msgBuilder {
	for _, x := range v {
		m.b = binary.BigEndian.AppendUint16(m.b, x)
	}
	return m
}

func (m *msgBuilder) u32(v uint32) *msgBuilder {
	m.b = binary.BigEndian.AppendUint32(m.b, v)
	return m
}

func (m *msgBuilder) raw(b ...byte) *msgBuilder {
	m.b = append(m.b, b...)
	return m
}

// rr appends the fixed part of a record (after its name) and rdata.
func (m *msgBuilder) rr(typ uint16, ttl uint32, rdata []byte) *msgBuilder {
	m.u16(typ, 1).u32(ttl).u16(uint16(len(rdata)))
	m.b = append(m.b, rdata...)
	return m
}

// rrLen appends the fixed part with an rdlength; the caller appends rdata.
func (m *msgBuilder) rrLen(typ uint16, ttl uint32, n int) *msgBuilder {
	return m.u16(typ, 1).u32(ttl).u16(uint16(n))
}

func wireName(s string) []byte { return (&msgBuilder{}).name(s).b }

// query for www.Example.com A, ID 0x1234.
func exampleQuery() []byte {
	return newMsg(0x1234, 0x0100, 1, 0, 0, 0).name("www.Example.com").u16(TypeA, 1).b
}

// exampleAnswer: CNAME + two A records, compressed against the question.
func exampleAnswer() []byte {
	m := newMsg(0x1234, 0x8180, 1, 3, 0, 0).name("www.Example.com").u16(TypeA, 1)
	m.ptr(12).rrLen(TypeCNAME, 300, 6).ptr(16, "cdn") // cdn.example.com
	cname := len(m.b) - 6
	m.ptr(cname).rr(TypeA, 60, []byte{192, 0, 2, 1})
	m.ptr(cname).rr(TypeA, 60, []byte{192, 0, 2, 2})
	return m.b
}

func TestParseMessage(t *testing.T) {
	m, err := ParseMessage(exampleAnswer())
	if err != nil {
		t.Fatal(err)
	}
	want := Message{
		ID: 0x1234, Response: true, Flags: 0x8180, QDCount: 1, ANCount: 3,
		Question: Question{Name: "www.example.com", Type: TypeA, Class: 1}, HasQuestion: true,
		Answers: []detect.DNSAnswer{
			{RRName: "www.example.com", RRType: "CNAME", TTL: 300, RData: "cdn.example.com"},
			{RRName: "cdn.example.com", RRType: "A", TTL: 60, RData: "192.0.2.1"},
			{RRName: "cdn.example.com", RRType: "A", TTL: 60, RData: "192.0.2.2"},
		},
	}
	if diff := cmp.Diff(m, want); diff != "" {
		t.Errorf("ParseMessage() (-got, +want):\n%s", diff)
	}
}

func TestRData(t *testing.T) {
	v6 := []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	soa := append(append(wireName("ns1.example.com"), wireName("hostmaster.example.com")...),
		0, 0, 0, 1, 0, 0, 0x0e, 0x10, 0, 0, 0x07, 0x08, 0, 0x09, 0x3a, 0x80, 0, 0, 0x01, 0x2c)
	svc := append([]byte{0, 1}, wireName("")...)
	svc = append(svc, 0, 1, 0, 6, 2, 'h', '2', 2, 'h', '3') // alpn=h2,h3
	svc = append(svc, 0, 3, 0, 2, 0x01, 0xbb)               // port=443
	svc = append(svc, 0, 4, 0, 8, 192, 0, 2, 1, 192, 0, 2, 2)
	svc = append(svc, 0, 99, 0, 2, 0xab, 0xcd)
	tests := []struct {
		name  string
		typ   uint16
		rdata []byte
		want  string
	}{
		{"A", TypeA, []byte{10, 0, 0, 1}, "10.0.0.1"},
		{"A bad length", TypeA, []byte{10, 0, 0}, `\# 3 0a0000`},
		{"AAAA", TypeAAAA, v6, "2001:db8::1"},
		{"NS", TypeNS, wireName("NS1.Example.com"), "ns1.example.com"},
		{"PTR root", TypePTR, wireName(""), "."},
		{"MX", TypeMX, append([]byte{0, 10}, wireName("mx.example.com")...), "10 mx.example.com"},
		{"TXT", TypeTXT, []byte("\x05v=spf\x07 -all x"), "v=spf -all x"},
		{"TXT bad", TypeTXT, []byte("\x09short"), `\# 6 0973686f7274`},
		{"SOA", TypeSOA, soa, "ns1.example.com hostmaster.example.com 1 3600 1800 604800 300"},
		{"SRV", TypeSRV, append([]byte{0, 1, 0, 5, 0x13, 0xc4}, wireName("sip.example.com")...), "1 5 5060 sip.example.com"},
		{"HTTPS", TypeHTTPS, svc, "1 . alpn=h2,h3 port=443 ipv4hint=192.0.2.1,192.0.2.2 key99=abcd"},
		{"CAA", TypeCAA, []byte("\x00\x05issueca.example"), `0 issue "ca.example"`},
		{"unknown", 65280, []byte{1, 2, 0xff}, `\# 3 0102ff`},
		{"empty unknown", 65280, nil, `\# 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newMsg(1, 0x8000, 0, 1, 0, 0).name("x.example").rr(tt.typ, 5, tt.rdata).b
			m, err := ParseMessage(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Answers) != 1 || m.Answers[0].RData != tt.want {
				t.Errorf("rdata = %+v, want %q", m.Answers, tt.want)
			}
		})
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		name string
		msg  []byte
		want string
		err  error
	}{
		{"root", newMsg(1, 0, 1, 0, 0, 0).name("").u16(2, 1).b, ".", nil},
		{"escapes", newMsg(1, 0, 1, 0, 0, 0).raw(3, 'a', '.', 'B', 2, 0, ' ', 0).u16(1, 1).b, `a\.b.\000\032`, nil},
		{"pointer to self", newMsg(1, 0, 1, 0, 0, 0).ptr(12).u16(1, 1).b, "", ErrLoop},
		{"pointer loop", newMsg(1, 0, 1, 0, 0, 0).ptr(14).ptr(12).u16(1, 1).b, "", ErrLoop},
		{"label loop", newMsg(1, 0, 1, 0, 0, 0).ptr(12, "a").u16(1, 1).b, "", ErrLoop},
		{"long label loop", newMsg(1, 0, 1, 0, 0, 0).ptr(12, strings.Repeat("a", 60)).u16(1, 1).b, "", ErrNameLong},
		{"pointer out of bounds", newMsg(1, 0, 1, 0, 0, 0).ptr(500).u16(1, 1).b, "", ErrPointer},
		{"truncated pointer", newMsg(1, 0, 1, 0, 0, 0).raw(0xc0).b, "", ErrShort},
		{"truncated label", newMsg(1, 0, 1, 0, 0, 0).raw(5, 'a', 'b').b, "", ErrShort},
		{"extended label", newMsg(1, 0, 1, 0, 0, 0).raw(0x41, 0).u16(1, 1).b, "", ErrLabel},
		{"too long", newMsg(1, 0, 1, 0, 0, 0).name(strings.Repeat("abcdefghi.", 26)+"x").u16(1, 1).b, "", ErrNameLong},
		{"short header", []byte{1, 2, 3}, "", ErrShort},
		{"no qtype", newMsg(1, 0, 1, 0, 0, 0).name("a").raw(0).b, "", ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMessage(tt.msg)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && m.Question.Name != tt.want {
				t.Errorf("name = %q, want %q", m.Question.Name, tt.want)
			}
		})
	}
}

func TestTruncatedAnswers(t *testing.T) {
	b := exampleAnswer()
	m, err := ParseMessage(b[:len(b)-3])
	if !errors.Is(err, ErrShort) || !m.HasQuestion || len(m.Answers) != 2 {
		t.Fatalf("err %v, question %v, %d answers", err, m.HasQuestion, len(m.Answers))
	}
}

func TestManyAnswers(t *testing.T) {
	m := newMsg(7, 0x8180, 1, 200, 0, 0).name("many.example").u16(TypeA, 1)
	for i := range 200 {
		m.ptr(12).rr(TypeA, 1, []byte{10, 0, byte(i >> 8), byte(i)})
	}
	got, err := ParseMessage(m.b)
	if err != nil || len(got.Answers) != MaxAnswers {
		t.Fatalf("err %v, %d answers", err, len(got.Answers))
	}
}

func TestNamesTables(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{TypeName(1), "A"}, {TypeName(28), "AAAA"}, {TypeName(65), "HTTPS"}, {TypeName(65280), "TYPE65280"},
		{RCodeName(0), "NOERROR"}, {RCodeName(3), "NXDOMAIN"}, {RCodeName(5), "REFUSED"}, {RCodeName(15), "RCODE15"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"query", exampleQuery(), true},
		{"answer", exampleAnswer(), true},
		{"mDNS QU", newMsg(0, 0, 1, 0, 0, 0).name("_ipp._tcp.local").u16(12, 0x8001).b, true},
		{"EDNS query", newMsg(9, 0x0120, 1, 0, 0, 1).name("a.example").u16(1, 1).raw(0).u16(41, 1232).u32(0).u16(0).b, true},
		{"update opcode", newMsg(1, 0x2800, 1, 0, 0, 0).name("a.example").u16(6, 1).b, false},
		{"no question", newMsg(1, 0x0100, 0, 0, 0, 0).raw(0, 0, 0, 0, 0).b, false},
		{"query with answers", newMsg(1, 0x0100, 1, 3, 0, 0).name("a.example").u16(1, 1).b, false},
		{"bad class", newMsg(1, 0x0100, 1, 0, 0, 0).name("a.example").u16(1, 77).b, false},
		{"HTTP", []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), false},
		{"TLS", []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00\x00\x00\x00\x00\x00\x00"), false},
		{"short", []byte{0, 1, 0, 0}, false},
	}
	for _, tt := range tests {
		if got := Detect(tt.b); got != tt.want {
			t.Errorf("%s: Detect = %v, want %v", tt.name, got, tt.want)
		}
	}
}
