package tls

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

// corpusWant is what the peers recorded in /work/shared/corpus/expected.json
// for one TLS connection. Sources, per field:
//   - sni, ja3: tshark.client_hellos (tshark 4.0.17 dissection), and the
//     peer's own value where it reports one (Arkime tls.ja3, nDPI JA3C,
//     Suricata tls.ja3.string);
//   - ja4: peer_expect (Suricata test.yaml tls.ja4, nDPI "JA4", Arkime
//     tls.ja4); empty when no peer computed one;
//   - ja3s: Arkime tls.ja3s / nDPI JA3S;
//   - version/cipher: Zeek ssl.log (version, cipher).
type corpusWant struct {
	clientPort uint16 // 0: the capture's only TLS connection
	sni        string
	ja3        string
	ja3String  string
	ja4        string
	ja3s       string
	ja3sString string
	version    string
	cipher     uint16
	ech        bool
	cert       bool // a leaf certificate is visible (TLS ≤ 1.2)
}

var corpusCases = []struct {
	file      string
	afterHTTP bool // TLS tunnelled after an HTTP CONNECT exchange
	want      []corpusWant
}{
	{file: "sv__ja4-tls__input.pcap", want: []corpusWant{{
		ja3:     "308b0bd904abbef5e0034a1ff7a78920",
		ja4:     "t12i1810s1_27d4652c4487_06a4338d0495", // suricata-verify tests/ja4-tls/test.yaml
		version: "TLS 1.2",
		cert:    true,
	}}},
	{file: "zeek__tls__tls1.2.pcap", want: []corpusWant{{
		ja3:     "bd9c99b3a0f752c3ab8b052a79e9de3e",
		version: "TLS 1.2", // zeek: TLSv12
		cipher:  0x0004,    // zeek: TLS_RSA_WITH_RC4_128_MD5
		cert:    true,
	}}},
	{file: "zeek__tls__tls13_wolfssl.pcap", want: []corpusWant{{
		ja3:     "39cef737bf0cabc32c28f95d09b97702",
		version: "TLS 1.3", // zeek: TLSv13
		cipher:  0x1302,    // zeek: TLS_AES_256_GCM_SHA384
	}}},
	{file: "arkime__tls13.pcap", want: []corpusWant{{
		sni:        "blog.cloudflare.com",
		ja3:        "4826a90ec2daf4f7b4b64cc1c8bd343b",
		ja4:        "t00d1815h2_a30347de7a75_2a77702ff8e0", // draft 0x7f12 → "00"
		ja3s:       "b8a8031b301aef7618403061e9f33065",
		ja3sString: "32530,4865,40",
		version:    "TLS 1.3 draft-18", // arkime: TLSv1.3-draft-18
		cipher:     0x1301,
	}}},
	{file: "zeek__tls__chrome-1250-tls-x25519-kyber.pcap", want: []corpusWant{{
		sni:     "lh3.google.com",
		ja3:     "9d33d8206d4fec4c8b1423c728f4cd3c",
		version: "TLS 1.3",
		cipher:  0x1301, // zeek: TLS_AES_128_GCM_SHA256
		ech:     true,   // Chrome's GREASE ECH extension (65037 in the JA3 string)
	}}},
	{file: "ndpi__tls_ech.pcapng", want: []corpusWant{{
		sni:     "performance.radar.cloudflare.com",
		ja3:     "6820f114cf3b0809ffdcb30cb277848a",
		ja4:     "t13d1516h2_8daaf6152771_02713d6af862",
		ja3s:    "eb1d94daa7e0344597e756a1fb6e7054",
		version: "TLS 1.3",
		cipher:  0x1301, // nDPI: TLS_AES_128_GCM_SHA256
		ech:     true,
	}}},
	{file: "ndpi__tls_with_huge_ch.pcapng", want: []corpusWant{{
		ja3: "66d6080b942b0b593896bf729f3fd326",
		// nDPI reports t13d1811h2_f71e3e15ae0d_5c3a8cf9b2bc, with "d",
		// although this ClientHello has no server_name extension (nDPI
		// itself flags "Missing SNI TLS Extn"; tshark shows no SNI and
		// the JA3 extension list has no 0). The JA4 spec says "d" iff
		// extension 0x0000 exists, so we report "i"; the hashes match.
		ja4: "t13i1811h2_f71e3e15ae0d_5c3a8cf9b2bc",
	}}},
	{file: "sv__tls-duplicate-hello__input.pcap", want: []corpusWant{{
		// suricata-verify tests/tls-duplicate-hello: the first ClientHello's
		// JA3 string; the second (duplicate) hello must not replace it.
		sni:       "localhost",
		ja3:       "43202faa1c8c1760d6f7f4bd9adde4ab",
		ja3String: "771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-52392-49172-49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-49310-51,5-10-11-13-22-23-35-51-43-65281-0-45,23,0",
		version:   "TLS 1.3",
	}}},
	{file: "arkime__https-connect.pcap", afterHTTP: true, want: []corpusWant{{
		ja3:        "b288289af2999820648eb3ca4d8304c5",
		ja4:        "t12i860500_e18388e7f3a3_a1e935682795",
		ja3s:       "b7bd51222a09f3ad66a340710ae9c01a",
		ja3sString: "771,49200,35-65281",
		version:    "TLS 1.2",
		cipher:     0xc030, // arkime: TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
		cert:       true,
	}}},
	{file: "ndpi__tor.pcap", want: []corpusWant{
		{clientPort: 51110, sni: "www.ct7ctrgb6cr7.com", ja3: "581a3c7f54555512b8cd16e87dfe165b", ja4: "t10d360300_77f462745360_33a13ba74d1c", ja3s: "184d532a16876b78846ae6a03f654890", cert: true},
		{clientPort: 51112, sni: "www.q4cyamnc6mtokjurvdclt.com", ja3: "581a3c7f54555512b8cd16e87dfe165b", ja4: "t10d360300_77f462745360_33a13ba74d1c", ja3s: "e1691a31bfe345d2692da75636ddfb00", cert: true},
		{clientPort: 51175, sni: "www.gfu7hbxpfp.com", ja3: "581a3c7f54555512b8cd16e87dfe165b", ja4: "t10d360300_77f462745360_33a13ba74d1c", ja3s: "184d532a16876b78846ae6a03f654890", cert: true},
		{clientPort: 51111, sni: "www.e6r5p57kbafwrxj3plz.com", ja3: "581a3c7f54555512b8cd16e87dfe165b", ja4: "t10d360300_77f462745360_33a13ba74d1c", ja3s: "184d532a16876b78846ae6a03f654890", cert: true},
		{clientPort: 51174, sni: "www.t3i3ru.com", ja3: "581a3c7f54555512b8cd16e87dfe165b", ja4: "t10d360300_77f462745360_33a13ba74d1c", ja3s: "184d532a16876b78846ae6a03f654890", cert: true},
		{clientPort: 51185, sni: "www.6gyip7tqim7sieb.com", ja3: "581a3c7f54555512b8cd16e87dfe165b", ja4: "t10d360300_77f462745360_33a13ba74d1c", ja3s: "184d532a16876b78846ae6a03f654890", cert: true},
		{clientPort: 51176, sni: "www.jmts2id.com", ja3: "581a3c7f54555512b8cd16e87dfe165b", ja4: "t10d360300_77f462745360_33a13ba74d1c", ja3s: "e1691a31bfe345d2692da75636ddfb00", cert: true},
	}},
}

// stripHTTP drops each direction's bytes up to and including the first
// "\r\n\r\n" (the CONNECT request and its response).
func stripHTTP(c *tcpConn) {
	var done [2]bool
	var out []chunk
	for _, ch := range c.chunks {
		if !done[ch.dir] {
			i := bytes.Index(ch.data, []byte("\r\n\r\n"))
			if i < 0 {
				continue
			}
			done[ch.dir] = true
			ch.data = ch.data[i+4:]
			if len(ch.data) == 0 {
				continue
			}
		}
		out = append(out, ch)
	}
	c.chunks = out
}

func TestCorpus(t *testing.T) {
	for _, tc := range corpusCases {
		t.Run(tc.file, func(t *testing.T) {
			conns := readTCPConns(t, corpusPath(t, tc.file))
			got := map[uint16]*detect.TLS{}
			var only *detect.TLS
			n := 0
			for _, c := range conns {
				if tc.afterHTTP {
					stripHTTP(c)
				}
				evs, _ := feed(c)
				if len(evs) > 1 {
					t.Errorf("port %d: %d events, want at most 1", c.clientPort, len(evs))
				}
				for _, e := range evs {
					if e.Type != detect.TypeTLS || e.TLS == nil {
						t.Fatalf("event %+v", e)
					}
					got[c.clientPort] = e.TLS
					only = e.TLS
					n++
				}
			}
			if n != len(tc.want) {
				t.Errorf("%d tls events, want %d", n, len(tc.want))
			}
			for _, w := range tc.want {
				g := only
				if w.clientPort != 0 {
					g = got[w.clientPort]
				}
				if g == nil {
					t.Errorf("port %d: no event", w.clientPort)
					continue
				}
				checkWant(t, w, g)
			}
		})
	}
}

func checkWant(t *testing.T, w corpusWant, g *detect.TLS) {
	t.Helper()
	if g.SNI != w.sni {
		t.Errorf("port %d: SNI %q, want %q", w.clientPort, g.SNI, w.sni)
	}
	if g.JA3 == nil || g.JA3.Hash != w.ja3 {
		t.Errorf("port %d: JA3 %+v, want %s", w.clientPort, g.JA3, w.ja3)
	}
	if w.ja3String != "" && (g.JA3 == nil || g.JA3.String != w.ja3String) {
		t.Errorf("port %d: JA3 string %+v, want %s", w.clientPort, g.JA3, w.ja3String)
	}
	if w.ja4 != "" && g.JA4 != w.ja4 {
		t.Errorf("port %d: JA4 %s, want %s", w.clientPort, g.JA4, w.ja4)
	}
	if w.ja3s != "" && (g.JA3S == nil || g.JA3S.Hash != w.ja3s) {
		t.Errorf("port %d: JA3S %+v, want %s", w.clientPort, g.JA3S, w.ja3s)
	}
	if w.ja3sString != "" && (g.JA3S == nil || g.JA3S.String != w.ja3sString) {
		t.Errorf("port %d: JA3S %+v, want %s", w.clientPort, g.JA3S, w.ja3sString)
	}
	if w.version != "" && g.Version != w.version {
		t.Errorf("port %d: version %q, want %q", w.clientPort, g.Version, w.version)
	}
	if w.cipher != 0 && g.CipherSuite != w.cipher {
		t.Errorf("port %d: cipher %#04x, want %#04x", w.clientPort, g.CipherSuite, w.cipher)
	}
	if g.ECH != w.ech {
		t.Errorf("port %d: ECH %v, want %v", w.clientPort, g.ECH, w.ech)
	}
	if w.cert != (g.Fingerprint != "") {
		t.Errorf("port %d: certificate fingerprint %q, want one: %v", w.clientPort, g.Fingerprint, w.cert)
	}
	t.Logf("port %d: %s ja4=%s ja3s=%v subject=%q issuer=%q serial=%s fp=%s", w.clientPort, g.Version, g.JA4, g.JA3S, g.Subject, g.IssuerDN, g.Serial, g.Fingerprint)
}

// TestCorpusChunking re-feeds every corpus connection with each
// direction's bytes cut into random pieces (1..64 bytes), keeping the
// order of the original segments across directions: the event must not
// change.
func TestCorpusChunking(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range corpusCases {
		t.Run(tc.file, func(t *testing.T) {
			for _, c := range readTCPConns(t, corpusPath(t, tc.file)) {
				if tc.afterHTTP {
					stripHTTP(c)
				}
				want, _ := feed(c)
				for range 20 {
					cut := &tcpConn{clientPort: c.clientPort}
					for _, ch := range c.chunks {
						first := true
						for b := ch.data; len(b) > 0; {
							n := min(len(b), 1+rng.IntN(64))
							piece := chunk{dir: ch.dir, data: b[:n], ts: ch.ts}
							if first {
								piece.gap, first = ch.gap, false
							}
							cut.chunks = append(cut.chunks, piece)
							b = b[n:]
						}
					}
					got, _ := feed(cut)
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("port %d: pieces %+v, whole %+v", c.clientPort, tlsOf(got), tlsOf(want))
					}
				}
			}
		})
	}
}
