package pipeline

import (
	"bufio"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/reassembly"
)

// TestLoopbackTLSAndTunnelAnomalies: real TCP connections over the
// loopback interface, captured by tcpdump and replayed — Go's crypto/tls
// with real ECH (client and server: the outer SNI is the public name),
// ClientHellos with two names in one server_name extension, with two
// server_name extensions and with an invalid name, and requests through a
// CONNECT proxy, a SOCKS5 proxy and with an absolute URI whose names differ
// from the Host header or SNI inside — plus the same tunnels with matching
// names and a GREASE-like ECH (the real name as SNI), which raise nothing.
func TestLoopbackTLSAndTunnelAnomalies(t *testing.T) {
	if testing.Short() {
		t.Skip("captures loopback traffic with tcpdump")
	}
	if _, err := exec.LookPath("tcpdump"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("NUNCHI_TEST_REQUIRE_NETNS") == "1" {
			t.Fatal("needs root and tcpdump")
		}
		t.Skip("needs root and tcpdump")
	}
	dir, err := os.MkdirTemp("", "nunchi-lo-") // tcpdump drops privileges
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)

	// Servers: a TLS server with ECH keys, a sink that reads and closes, a
	// CONNECT proxy and a SOCKS5 server that grant everything and then
	// answer HTTP with a 204.
	echList, echKeys := echConfig(t, "public.example")
	cert := selfSigned(t, "secret.example", "public.example")
	tlsLn, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, EncryptedClientHelloKeys: echKeys, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer tlsLn.Close()
	go serve(tlsLn, func(c net.Conn) { c.(*tls.Conn).Handshake(); io.Copy(io.Discard, c) })
	sink := listen(t, func(c net.Conn) { answerHTTP(c) })
	proxy := listen(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if !readHead(br) {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		answerHTTPFrom(c, br)
	})
	socks := listen(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		var g [3]byte
		if _, err := io.ReadFull(br, g[:]); err != nil {
			return
		}
		c.Write([]byte{5, 0})
		var h [5]byte // ver cmd rsv atyp (name length | first address byte)
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return
		}
		rest := make([]byte, int(h[4])+2) // a name, then the port
		if h[3] == 1 {
			rest = rest[:3+2] // IPv4: three more address bytes, the port
		}
		if _, err := io.ReadFull(br, rest); err != nil {
			return
		}
		c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
		answerHTTPFrom(c, br)
	})
	hangup := listen(t, func(c net.Conn) { c.Read(make([]byte, 4096)) }) // reads a ClientHello, closes
	ports := []string{port(tlsLn), port(sink), port(proxy), port(socks), port(hangup)}

	pcap := filepath.Join(dir, "lo.pcap")
	td := exec.Command("tcpdump", "-i", "lo", "-U", "-n", "-w", pcap, "tcp and (port "+strings.Join(ports, " or port ")+")")
	stderr, _ := td.StderrPipe()
	if err := td.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				ready <- true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		td.Process.Kill()
		t.Fatal("tcpdump did not start")
	}

	// Real ECH: the inner name secret.example travels encrypted.
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	c, err := tls.Dial("tcp", tlsLn.Addr().String(), &tls.Config{ServerName: "secret.example", RootCAs: pool,
		EncryptedClientHelloConfigList: echList, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatalf("ECH handshake: %v", err)
	}
	if !c.ConnectionState().ECHAccepted {
		t.Fatal("ECH not accepted")
	}
	c.Close()
	// A plain TLS 1.3 connection to the same server: no ECH anomaly.
	if c, err := tls.Dial("tcp", tlsLn.Addr().String(), &tls.Config{ServerName: "secret.example", RootCAs: pool}); err == nil {
		c.Close()
	} else {
		t.Fatal(err)
	}
	send := func(addr string, msgs ...[]byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for _, m := range msgs {
			c.Write(m)
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			br.ReadString('\n') // the proxy's or server's answer, if any
			readHead(br)
		}
		time.Sleep(50 * time.Millisecond)
	}
	sinkAddr, proxyAddr, socksAddr := sink.Addr().String(), proxy.Addr().String(), socks.Addr().String()
	send(sinkAddr, sniHello([][]string{{"allowed.example", "blocked.example"}}))                 // two names, one extension
	send(sinkAddr, sniHello([][]string{{"allowed.example"}, {"blocked.example"}}))               // two extensions
	send(sinkAddr, sniHello([][]string{{"bad name!.example"}}))                                  // invalid
	send(sinkAddr, []byte("GET http://front.example/ HTTP/1.1\r\nHost: hidden.example\r\n\r\n")) // absolute URI ≠ Host
	send(proxyAddr, []byte("CONNECT front.example:80 HTTP/1.1\r\nHost: front.example:80\r\n\r\n"),
		[]byte("GET / HTTP/1.1\r\nHost: hidden.example\r\n\r\n"))
	send(proxyAddr, []byte("CONNECT same.example:80 HTTP/1.1\r\nHost: same.example:80\r\n\r\n"),
		[]byte("GET / HTTP/1.1\r\nHost: same.example\r\n\r\n"))
	send(proxyAddr, []byte("CONNECT front.example:443 HTTP/1.1\r\nHost: front.example:443\r\n\r\n"),
		sniHello([][]string{{"hidden.example"}}))
	socksReq := func(host string) []byte {
		return append(append([]byte{5, 1, 0, 3, byte(len(host))}, host...), 0, 80)
	}
	send(socksAddr, []byte{5, 1, 0}, socksReq("front.example"), []byte("GET / HTTP/1.1\r\nHost: hidden.example\r\n\r\n"))
	send(socksAddr, []byte{5, 1, 0}, socksReq("same.example"), []byte("GET / HTTP/1.1\r\nHost: same.example\r\n\r\n"))
	// SOCKS5 to an address (the client resolved the name), TLS for the name inside: no mismatch.
	send(socksAddr, []byte{5, 1, 0}, []byte{5, 1, 0, 1, 192, 0, 2, 7, 1, 187}, sniHello([][]string{{"named.example"}}))
	// curl resolving through DNS-over-HTTPS at dns.google (pointed here):
	// the built-in list names it.
	if _, err := exec.LookPath("curl"); err == nil {
		doh := "dns.google:" + port(hangup)
		exec.Command("curl", "-s", "--max-time", "15", "--doh-insecure", "--doh-url", "https://"+doh+"/dns-query",
			"--resolve", doh+":127.0.0.1", "http://www.example/").Run()
	} else {
		t.Error("curl is missing")
	}
	time.Sleep(200 * time.Millisecond)
	td.Process.Signal(os.Interrupt)
	td.Wait()

	evs, _, err := replayFile(t, pcap, Config{Protocols: DefaultProtocols(), Streams: reassembly.DefaultStreamConfig(),
		Anomalies: AnomalyConfig{ECHPublicNames: []string{"public.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	named := 0 // the TLS inside the SOCKS tunnel to an address was parsed
	for _, e := range evs {
		if e.Type == detect.TypeTLS && e.TLS.SNI == "named.example" {
			named++
		}
		if e.Type != detect.TypeAnomaly {
			continue
		}
		k := e.Anomaly.Type + "/" + e.Anomaly.Event
		for _, d := range e.Anomaly.Detail {
			if !d.IsNum && d.Key != "attribution" {
				k += " " + d.Key + "=" + d.Str
			} else if d.Key == "names" || d.Key == "extensions" {
				k += fmt.Sprintf(" %s=%d", d.Key, d.Num)
			}
		}
		got[k]++
	}
	want := map[string]int{
		"tls_ech/ech outer_sni=public.example": 1,
		"tls_multiple_sni/tls_multiple_sni sni=allowed.example names=2 extensions=1 other_sni=blocked.example": 1,
		"tls_multiple_sni/tls_multiple_sni sni=allowed.example names=2 extensions=2 other_sni=blocked.example": 1,
		"tls_invalid_sni/tls_invalid_sni sni=bad name!.example":                                                1,
		"proxy/absolute_uri host=hidden.example":                                                               1,
		"proxy/uri_host_mismatch uri_host=front.example host=hidden.example":                                   1,
		"proxy/http_connect host=front.example":                                                                2,
		"proxy/http_connect host=same.example":                                                                 1,
		"proxy/connect_host_mismatch connect_host=front.example host=hidden.example":                           1,
		"proxy/connect_sni_mismatch connect_host=front.example sni=hidden.example":                             1,
		"proxy/socks version=5 status=granted target=front.example:80":                                         1,
		"proxy/socks version=5 status=granted target=same.example:80":                                          1,
		"proxy/socks version=5 status=granted target=192.0.2.7:443":                                            1,
		"proxy/socks_host_mismatch socks_host=front.example host=hidden.example":                               1,
	}
	// curl asks for A and AAAA: one connection each, or one shared when the
	// first is up before the second starts (a loaded machine).
	const dohKey = "doh/tls sni=dns.google matched=name"
	if n := got[dohKey]; n < 1 || n > 2 {
		t.Errorf("%s: %d, want 1 or 2", dohKey, n)
	}
	delete(got, dohKey)
	if named != 1 {
		t.Errorf("%d tls events for named.example, want 1", named)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d, want %d", k, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s ×%d", k, n)
		}
	}
}

func listen(t *testing.T, h func(net.Conn)) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go serve(ln, h)
	return ln
}

func serve(ln net.Listener, h func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			h(c)
		}()
	}
}

func port(ln net.Listener) string { return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port) }

// readHead reads up to an empty line; false at EOF or timeout.
func readHead(br *bufio.Reader) bool {
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return false
		}
		if l == "\r\n" || l == "\n" {
			return true
		}
	}
}

func answerHTTP(c net.Conn) { answerHTTPFrom(c, bufio.NewReader(c)) }

// answerHTTPFrom answers each request head with a 204; anything that is
// not HTTP (a ClientHello) is read and dropped.
func answerHTTPFrom(c net.Conn, br *bufio.Reader) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return
		}
		if b[0] == 0x16 {
			io.Copy(io.Discard, br)
			return
		}
		if !readHead(br) {
			return
		}
		io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
	}
}

// sniHello builds a TLS 1.3 ClientHello record with one server_name
// extension per element of exts, each holding those host names.
func sniHello(exts [][]string) []byte {
	u16 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	var ext []byte
	for _, names := range exts {
		var list []byte
		for _, n := range names {
			list = append(u16(append(list, 0), len(n)), n...)
		}
		body := append(u16(nil, len(list)), list...)
		ext = append(u16(u16(ext, 0), len(body)), body...)
	}
	ext = append(ext, 0, 43, 0, 3, 2, 3, 4)                                           // supported_versions: TLS 1.3
	ext = append(ext, 0, 10, 0, 4, 0, 2, 0, 29)                                       // supported_groups: x25519
	ext = append(ext, 0, 13, 0, 4, 0, 2, 4, 3)                                        // signature_algorithms
	ext = append(append(ext, 0, 51, 0, 38, 0, 36, 0, 29, 0, 32), make([]byte, 32)...) // key_share
	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // session id
	body = append(body, 0, 2, 0x13, 0x01)    // cipher suites
	body = append(body, 1, 0)                // compression
	body = append(u16(body, len(ext)), ext...)
	hs := append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	return append(u16([]byte{0x16, 3, 1}, len(hs)), hs...)
}

// echConfig makes an ECH configuration (X25519, HKDF-SHA256, AES-128-GCM)
// with the given public name: the client's config list and the server's key.
func echConfig(t *testing.T, publicName string) ([]byte, []tls.EncryptedClientHelloKey) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u16 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	pub := k.PublicKey().Bytes()
	var c []byte
	c = append(c, 7)   // config_id
	c = u16(c, 0x0020) // DHKEM(X25519, HKDF-SHA256)
	c = append(u16(c, len(pub)), pub...)
	c = append(u16(c, 4), 0, 1, 0, 1) // HKDF-SHA256, AES-128-GCM
	c = append(c, 0)                  // maximum_name_length
	c = append(append(c, byte(len(publicName))), publicName...)
	c = u16(c, 0) // extensions
	cfg := append(u16(u16(nil, 0xfe0d), len(c)), c...)
	list := append(u16(nil, len(cfg)), cfg...)
	return list, []tls.EncryptedClientHelloKey{{Config: cfg, PrivateKey: k.Bytes(), SendAsRetry: true}}
}

func selfSigned(t *testing.T, names ...string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
