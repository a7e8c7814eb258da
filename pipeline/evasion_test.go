package pipeline

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/reassembly"
)

// segment is one client data segment: its offset in the client stream and bytes.
type segment struct {
	off  int
	data []byte
}

// tcpConversation writes a pcap holding a TCP handshake, the given client
// segments in the given order, a short server answer and a teardown.
func tcpConversation(t *testing.T, path string, segs []segment, answer []byte) {
	t.Helper()
	c := newTCPPcap(t, net.IP{192, 0, 2, 10}, net.IP{198, 51, 100, 20}, 40000, 443)
	const cISN, sISN = 1000, 5000
	clientLen := 0
	for _, s := range segs {
		clientLen = max(clientLen, s.off+len(s.data))
	}
	write := c.segment
	write(true, cISN, 0, true, false, false, nil)
	write(false, sISN, cISN+1, true, false, true, nil)
	write(true, cISN+1, sISN+1, false, false, true, nil)
	for _, s := range segs {
		write(true, uint32(cISN+1+s.off), sISN+1, false, false, true, s.data)
	}
	write(false, sISN+1, uint32(cISN+1+clientLen), false, false, true, answer)
	write(true, uint32(cISN+1+clientLen), uint32(sISN+1+len(answer)), false, true, true, nil)
	write(false, uint32(sISN+1+len(answer)), uint32(cISN+2+clientLen), false, true, true, nil)
	c.save(path)
}

// clientHello returns a real ClientHello record from crypto/tls for sni.
func clientHello(t *testing.T, sni string) []byte {
	t.Helper()
	c, s := net.Pipe()
	go func() {
		_ = tls.Client(c, &tls.Config{ServerName: sni, MinVersion: tls.VersionTLS12}).Handshake()
	}()
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 5)
	if _, err := readFull(s, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := readFull(s, body); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Close()
	return append(hdr, body...)
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// splits yields the client stream cut at offset k into two segments, in
// order, reversed, and with the first duplicated after the second.
func splits(stream []byte, k int) map[string][]segment {
	a, b := segment{0, stream[:k]}, segment{k, stream[k:]}
	return map[string][]segment{
		"in-order":   {a, b},
		"reversed":   {b, a},
		"duplicated": {a, b, a, b},
	}
}

func replayNames(t *testing.T, path string) (sni, host string, conflicts uint64) {
	t.Helper()
	evs, st, err := replayFile(t, path, Config{Protocols: DefaultProtocols(), Streams: reassembly.DefaultStreamConfig()})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.TLS != nil {
			sni = e.TLS.SNI
		}
		if e.HTTP != nil {
			host = e.HTTP.Hostname
		}
	}
	return sni, host, st.Streams.OverlapConflicts
}

// TestEvasionClientHelloSplit: a ClientHello cut at every byte offset into
// two TCP segments, delivered in order, reversed, or duplicated, always
// yields its SNI.
func TestEvasionClientHelloSplit(t *testing.T) {
	ch := clientHello(t, "evasion.example")
	dir := t.TempDir()
	path := filepath.Join(dir, "ch.pcap")
	failed := 0
	for k := 1; k < len(ch); k++ {
		for name, segs := range splits(ch, k) {
			tcpConversation(t, path, segs, []byte{0x15, 3, 3, 0, 2, 2, 40})
			if sni, _, _ := replayNames(t, path); sni != "evasion.example" {
				failed++
				if failed < 5 {
					t.Errorf("split at %d, %s: sni %q", k, name, sni)
				}
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d cases lost the SNI", failed, 3*(len(ch)-1))
	}
}

// TestEvasionHTTPSplit: an HTTP request cut at every byte offset.
func TestEvasionHTTPSplit(t *testing.T) {
	req := []byte("GET /some/path?q=1 HTTP/1.1\r\nHost: split.example:8080\r\nUser-Agent: test/1\r\nAccept: */*\r\n\r\n")
	dir := t.TempDir()
	path := filepath.Join(dir, "http.pcap")
	failed := 0
	for k := 1; k < len(req); k++ {
		for name, segs := range splits(req, k) {
			tcpConversation(t, path, segs, []byte("HTTP/1.1 204 No Content\r\n\r\n"))
			if _, host, _ := replayNames(t, path); host != "split.example" {
				failed++
				if failed < 5 {
					t.Errorf("split at %d, %s: host %q", k, name, host)
				}
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d cases lost the Host", failed, 3*(len(req)-1))
	}
}

// TestOverlapConflictInjected: a segment retransmitted with different
// bytes (what an injected packet racing the real one looks like) is counted.
func TestOverlapConflictInjected(t *testing.T) {
	req := []byte("GET / HTTP/1.1\r\nHost: race.example\r\n\r\n")
	forged := append([]byte(nil), req...)
	copy(forged[16:], "Host: evil.example\r\n")
	path := filepath.Join(t.TempDir(), "race.pcap")
	tcpConversation(t, path, []segment{{0, req}, {0, forged[:len(req)]}}, []byte("HTTP/1.1 204 No Content\r\n\r\n"))
	_, host, conflicts := replayNames(t, path)
	if host != "race.example" || conflicts != 1 {
		t.Errorf("host %q conflicts %d, want race.example and 1", host, conflicts)
	}
	path2 := filepath.Join(t.TempDir(), "dup.pcap")
	tcpConversation(t, path2, []segment{{0, req}, {0, req}}, nil)
	if _, _, c := replayNames(t, path2); c != 0 {
		t.Errorf("an identical retransmission counted as a conflict")
	}
}

var _ = detect.ToServer
