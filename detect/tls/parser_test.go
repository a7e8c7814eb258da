package tls

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/detect"
)

// collector records emitted events.
type collector struct{ evs []*detect.Event }

func (c *collector) emit(e *detect.Event) { c.evs = append(c.evs, e) }

func clientStream() []byte {
	return records(ctHandshake, handshake(hsClientHello, specHello().body()), 1<<14)
}

// serverHello12 is a TLS 1.2 ServerHello choosing c02f and ALPN h2.
func serverHello12(t *testing.T) []byte {
	return handshake(hsServerHello, hx(t, "0303", random32, "00", "c02f", "00",
		"000e", "ff01 0001 00", "0010 0005 0003 02 6832"))
}

func serverHello13(t *testing.T) []byte {
	return handshake(hsServerHello, hx(t, "0303", "11"+random32[2:], "20", random32, "1301", "00",
		"0006", "002b 0002 0304"))
}

func testCert(t *testing.T) []byte {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x0102abcd),
		Subject:      pkix.Name{Country: []string{"FR"}, Organization: []string{"Nunchi Test"}, CommonName: "www.example.com"},
		Issuer:       pkix.Name{CommonName: "ignored for self-signed"},
		NotBefore:    time.Unix(1700000000, 0),
		NotAfter:     time.Unix(1800000000, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func certificateMsg(ders ...[]byte) []byte {
	var list []byte
	for _, d := range ders {
		n := len(d)
		list = append(list, byte(n>>16), byte(n>>8), byte(n))
		list = append(list, d...)
	}
	n := len(list)
	return handshake(hsCertificate, append([]byte{byte(n >> 16), byte(n >> 8), byte(n)}, list...))
}

func TestParserTLS12Certificate(t *testing.T) {
	der := testCert(t)
	// ServerHello, Certificate and ServerHelloDone in one record.
	flight := append(serverHello12(t), certificateMsg(der, der)...)
	flight = append(flight, handshake(14, nil)...)
	server := records(ctHandshake, flight, 1<<14)

	var c collector
	p := NewParser(c.emit)
	if v := p.Data(detect.ToServer, clientStream(), 10); v != detect.NeedMore {
		t.Fatalf("client Data = %v", v)
	}
	if v := p.Data(detect.ToClient, server, 20); v != detect.Done {
		t.Fatalf("server Data = %v", v)
	}
	p.Close(30)
	if len(c.evs) != 1 {
		t.Fatalf("%d events", len(c.evs))
	}
	e := c.evs[0]
	if e.Type != detect.TypeTLS || e.Timestamp != 20 {
		t.Errorf("event %+v", e)
	}
	g := e.TLS
	want := Certificate{}
	want, _ = ParseCertificate(der)
	if g.Subject != "C=FR, O=Nunchi Test, CN=www.example.com" || g.IssuerDN != g.Subject ||
		g.Serial != "01:02:AB:CD" || g.NotBefore != 1700000000 || g.NotAfter != 1800000000 ||
		g.Fingerprint != want.Fingerprint || len(g.Fingerprint) != 59 {
		t.Errorf("certificate fields: %+v", g)
	}
	if g.Version != "TLS 1.2" || g.CipherSuite != 0xc02f || g.ALPNServer != "h2" || g.SNI != "example.com" ||
		g.JA3S == nil || g.JA3S.String != "771,49199,65281-16" || g.JA4 != "t13d1516h2_8daaf6152771_e5627efa2ab1" {
		t.Errorf("event: %+v", g)
	}
	if len(g.CipherSuites) != 15 || len(g.Extensions) != 16 || len(g.SupportedVersions) != 2 || g.ALPN[0] != "h2" {
		t.Errorf("GREASE not removed or lists wrong: %v %v %v", g.CipherSuites, g.Extensions, g.SupportedVersions)
	}
}

func TestParserCertificateBeforeChainComplete(t *testing.T) {
	// The leaf is taken as soon as it is complete, long before a chain
	// far larger than the budget would be.
	der := testCert(t)
	big := make([]byte, 3*DefaultBudget)
	msg := certificateMsg(der, big)
	server := records(ctHandshake, append(serverHello12(t), msg[:len(der)+200]...), 1<<14)
	var c collector
	p := NewParser(c.emit)
	p.Data(detect.ToServer, clientStream(), 1)
	if v := p.Data(detect.ToClient, server, 2); v != detect.Done || len(c.evs) != 1 || c.evs[0].TLS.Subject == "" {
		t.Fatalf("verdict %v, events %d", v, len(c.evs))
	}
}

func TestParserTLS13(t *testing.T) {
	var c collector
	p := NewParser(c.emit)
	p.Data(detect.ToServer, clientStream(), 1)
	v := p.Data(detect.ToClient, records(ctHandshake, serverHello13(t), 1<<14), 2)
	if v != detect.Done || len(c.evs) != 1 {
		t.Fatalf("verdict %v, %d events", v, len(c.evs))
	}
	if g := c.evs[0].TLS; g.Version != "TLS 1.3" || g.CipherSuite != 0x1301 || g.Subject != "" {
		t.Errorf("%+v", g)
	}
	// Nothing more once Done.
	if v := p.Data(detect.ToClient, []byte{23, 3, 3, 0, 1, 0}, 3); v != detect.Done {
		t.Errorf("after Done: %v", v)
	}
	p.Close(4)
	if len(c.evs) != 1 {
		t.Errorf("%d events", len(c.evs))
	}
}

func TestParserHelloRetryRequest(t *testing.T) {
	hrr := handshake(hsServerHello, hx(t, "0303", "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c",
		"00", "1302", "00", "0006", "002b 0002 0304"))
	second := specHello()
	second.exts = second.exts[1:] // a different second ClientHello: ignored
	var c collector
	p := NewParser(c.emit)
	steps := []struct {
		dir  int
		data []byte
	}{
		{detect.ToServer, clientStream()},
		{detect.ToClient, records(ctHandshake, hrr, 1<<14)},
		{detect.ToClient, []byte{ctChangeCipherSpec, 3, 3, 0, 1, 1}},
		{detect.ToServer, []byte{ctChangeCipherSpec, 3, 3, 0, 1, 1}},
		{detect.ToServer, records(ctHandshake, handshake(hsClientHello, second.body()), 1<<14)},
	}
	for i, s := range steps {
		if v := p.Data(s.dir, s.data, int64(i)); v != detect.NeedMore {
			t.Fatalf("step %d: %v", i, v)
		}
	}
	if v := p.Data(detect.ToClient, records(ctHandshake, serverHello13(t), 1<<14), 9); v != detect.Done {
		t.Fatalf("real ServerHello: %v", v)
	}
	if len(c.evs) != 1 {
		t.Fatalf("%d events", len(c.evs))
	}
	g := c.evs[0].TLS
	if g.CipherSuite != 0x1301 || g.JA4 != "t13d1516h2_8daaf6152771_e5627efa2ab1" {
		t.Errorf("%+v", g)
	}
}

func TestParserCloseAfterClientHello(t *testing.T) {
	var c collector
	p := NewParser(c.emit)
	s := clientStream()
	p.Data(detect.ToServer, s[:100], 1)
	p.Data(detect.ToServer, s[100:], 2)
	if len(c.evs) != 0 {
		t.Fatal("emitted before the server side or Close")
	}
	p.Close(3)
	if len(c.evs) != 1 || c.evs[0].Timestamp != 3 || c.evs[0].TLS.JA3S != nil || c.evs[0].TLS.Version != "TLS 1.3" {
		t.Fatalf("%+v", c.evs)
	}
}

func TestParserServerFirst(t *testing.T) {
	// Reassembly may deliver the server's direction first: the event
	// waits for the ClientHello.
	var c collector
	p := NewParser(c.emit)
	if v := p.Data(detect.ToClient, records(ctHandshake, serverHello13(t), 1<<14), 1); v != detect.NeedMore {
		t.Fatal(v)
	}
	if v := p.Data(detect.ToServer, clientStream(), 2); v != detect.Done || len(c.evs) != 1 || c.evs[0].TLS.CipherSuite != 0x1301 || c.evs[0].TLS.SNI == "" {
		t.Fatalf("%v %+v", v, c.evs)
	}
}

func TestParserNotMine(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  int
		data string
	}{
		{"http", detect.ToServer, "474554202f20485454502f312e310d0a"},
		{"sslv2 hello", detect.ToServer, "802e0100020015000000100100800300800700c0"},
		{"bad record version", detect.ToServer, "16040100c8"},
		{"server hello from client", detect.ToServer, "16030300460200004203"},
		{"client hello too short", detect.ToServer, "1603030008010000040303"},
		{"application data first", detect.ToServer, "1703030010"},
		{"ssh banner from server", detect.ToClient, "5353482d322e302d"},
		{"malformed hello", detect.ToServer, "1603010009" + "0100000503030000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c collector
			p := NewParser(c.emit)
			b := hx(t, tc.data)
			v := detect.NeedMore
			for i := 0; i < len(b) && v == detect.NeedMore; i++ {
				v = p.Data(tc.dir, b[i:i+1], 1)
			}
			if v != detect.NotMine {
				t.Errorf("verdict %v, want NotMine", v)
			}
			p.Close(2)
			if len(c.evs) != 0 {
				t.Errorf("emitted %+v", c.evs)
			}
		})
	}
}

func TestParserNotMineFirstByte(t *testing.T) {
	p := NewParser(nil)
	if v := p.Data(detect.ToServer, []byte("G"), 1); v != detect.NotMine {
		t.Errorf("verdict %v", v)
	}
}

func TestParserGap(t *testing.T) {
	t.Run("before anything", func(t *testing.T) {
		p := NewParser(nil)
		if v := p.Gap(detect.ToServer, 100, 1); v != detect.NotMine {
			t.Errorf("%v", v)
		}
	})
	t.Run("inside the ClientHello", func(t *testing.T) {
		var c collector
		p := NewParser(c.emit)
		p.Data(detect.ToServer, clientStream()[:50], 1)
		if v := p.Gap(detect.ToServer, 100, 2); v != detect.Done || len(c.evs) != 0 {
			t.Errorf("%v %d", v, len(c.evs))
		}
	})
	t.Run("client after hello", func(t *testing.T) {
		var c collector
		p := NewParser(c.emit)
		p.Data(detect.ToServer, clientStream(), 1)
		if v := p.Gap(detect.ToServer, 100, 2); v != detect.NeedMore {
			t.Errorf("%v", v)
		}
		if v := p.Gap(detect.ToClient, 100, 3); v != detect.Done || len(c.evs) != 1 || c.evs[0].Timestamp != 3 {
			t.Errorf("%v %d", v, len(c.evs))
		}
	})
}

func TestParserServerAlert(t *testing.T) {
	var c collector
	p := NewParser(c.emit)
	p.Data(detect.ToServer, clientStream(), 1)
	if v := p.Data(detect.ToClient, hx(t, "15030300020228"), 2); v != detect.Done || len(c.evs) != 1 {
		t.Fatalf("%v %d", v, len(c.evs))
	}
}

func TestParserResumption(t *testing.T) {
	// TLS 1.2 abbreviated handshake: ServerHello then ChangeCipherSpec, no
	// certificate.
	var c collector
	p := NewParser(c.emit)
	p.Data(detect.ToServer, clientStream(), 1)
	p.Data(detect.ToClient, records(ctHandshake, serverHello12(t), 1<<14), 2)
	if len(c.evs) != 0 {
		t.Fatal("emitted before knowing whether a certificate follows")
	}
	if v := p.Data(detect.ToClient, []byte{ctChangeCipherSpec, 3, 3, 0, 1, 1}, 3); v != detect.Done || len(c.evs) != 1 {
		t.Fatalf("%v %d", v, len(c.evs))
	}
}

func TestParserBudget(t *testing.T) {
	t.Run("client", func(t *testing.T) {
		// A ClientHello larger than the budget cannot be parsed.
		p := NewParser(nil)
		p.SetBudget(100)
		if v := p.Data(detect.ToServer, clientStream(), 1); v != detect.NotMine {
			t.Errorf("%v", v)
		}
	})
	t.Run("server", func(t *testing.T) {
		// A server that never sends its certificate: endless handshake
		// bytes after the ServerHello, in a message that never ends.
		var c collector
		p := NewParser(c.emit)
		p.Data(detect.ToServer, clientStream(), 1)
		p.Data(detect.ToClient, records(ctHandshake, serverHello12(t), 1<<14), 2)
		junk := records(ctHandshake, append([]byte{12, 0xff, 0xff, 0xff}, make([]byte, 1<<20)...), 1<<14)
		v := detect.NeedMore
		fed := 0
		for len(junk) > 0 && v == detect.NeedMore {
			n := min(len(junk), 1400)
			v = p.Data(detect.ToClient, junk[:n], 3)
			junk = junk[n:]
			fed += n
		}
		if v != detect.Done || len(c.evs) != 1 || fed > DefaultBudget+1400 {
			t.Errorf("verdict %v after %d bytes, %d events", v, fed, len(c.evs))
		}
	})
	t.Run("client data after hello", func(t *testing.T) {
		var c collector
		p := NewParser(c.emit)
		p.Data(detect.ToServer, clientStream(), 1)
		v := detect.NeedMore
		for i := 0; i < 100 && v == detect.NeedMore; i++ {
			v = p.Data(detect.ToServer, make([]byte, 1400), 2)
		}
		if v != detect.Done || len(c.evs) != 1 {
			t.Errorf("%v %d", v, len(c.evs))
		}
	})
}

func TestParserReset(t *testing.T) {
	var c collector
	p := NewParser(c.emit)
	for i := range 3 {
		p.Reset(c.emit)
		p.Data(detect.ToServer, clientStream(), int64(i))
		p.Data(detect.ToClient, records(ctHandshake, serverHello13(t), 1<<14), int64(i))
	}
	if len(c.evs) != 3 {
		t.Fatalf("%d events", len(c.evs))
	}
	for _, e := range c.evs {
		if e.TLS.SNI != "example.com" || e.TLS.CipherSuite != 0x1301 || len(e.TLS.ALPN) != 2 {
			t.Errorf("%+v", e.TLS)
		}
	}
}

func TestParserDataAllocs(t *testing.T) {
	// Once its buffers have grown, a reused Parser allocates only for the
	// hello's strings and for the event.
	p := NewParser(func(*detect.Event) {})
	s := clientStream()
	pieces := [][]byte{s[:7], s[7:200], s[200:]}
	allocs := testing.AllocsPerRun(100, func() {
		p.Reset(func(*detect.Event) {})
		for _, b := range pieces {
			p.Data(detect.ToServer, b, 1)
		}
	})
	// SNI + two ALPN strings.
	if allocs > 3 {
		t.Errorf("%v allocs per ClientHello, want ≤ 3", allocs)
	}
}
