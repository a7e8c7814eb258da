package kafkatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/nunchi-sensor/nunchi/detect"
)

// ServiceAddr is the broker deploy/dev/services.sh started (NUNCHI_TEST_KAFKA).
// Unset: the test is skipped, or fails when NUNCHI_TEST_REQUIRE_SERVICES=1.
func ServiceAddr(t testing.TB) string {
	t.Helper()
	a := os.Getenv("NUNCHI_TEST_KAFKA")
	if a == "" {
		if os.Getenv("NUNCHI_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("NUNCHI_TEST_KAFKA is not set (eval $(deploy/dev/services.sh env)) and NUNCHI_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("NUNCHI_TEST_KAFKA not set; start the services with deploy/dev/services.sh up")
	}
	return a
}

// Broker starts an in-process broker on 127.0.0.1 that creates topics on
// first use (3 partitions); it is closed at the end of the test.
func Broker(t testing.TB, opts ...kfake.Opt) (*kfake.Cluster, string) {
	t.Helper()
	base := []kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3)}
	c, err := kfake.NewCluster(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()[0]
}

// Record is one consumed message.
type Record struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
}

// Consume reads every message of topic (all partitions, from the first
// offset to the end) with kafka-go. A missing topic reads as empty.
func Consume(t testing.TB, addr, topic string) []Record {
	t.Helper()
	conn, err := kafkago.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions(topic)
	if err != nil {
		if errors.Is(err, kafkago.UnknownTopicOrPartition) {
			return nil
		}
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	var out []Record
	for _, p := range parts {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		lc, err := kafkago.DialLeader(ctx, "tcp", addr, topic, p.ID)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		first, last, err := lc.ReadOffsets()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lc.Seek(first, kafkago.SeekAbsolute); err != nil {
			t.Fatal(err)
		}
		for off := first; off < last; {
			// One fetch per batch: Conn.ReadMessage would fetch per message.
			lc.SetReadDeadline(time.Now().Add(30 * time.Second))
			b := lc.ReadBatch(1, 16<<20)
			n := 0
			for {
				m, err := b.ReadMessage()
				if err != nil {
					break
				}
				out = append(out, Record{Topic: topic, Partition: p.ID, Offset: m.Offset, Key: m.Key, Value: m.Value})
				off = m.Offset + 1
				n++
			}
			if err := b.Close(); err != nil && n == 0 {
				t.Fatalf("%s/%d at %d: %v", topic, p.ID, off, err)
			}
		}
		lc.Close()
	}
	return out
}

// Topics lists the topics whose name starts with prefix.
func Topics(t testing.TB, addr, prefix string) []string {
	t.Helper()
	conn, err := kafkago.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range parts {
		if strings.HasPrefix(p.Topic, prefix) {
			seen[p.Topic] = true
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Kcat reads every value of topic with kcat (one per line); the test is
// skipped when kcat is not installed, unless NUNCHI_TEST_REQUIRE_SERVICES=1.
func Kcat(t testing.TB, addr, topic string) [][]byte {
	t.Helper()
	if _, err := exec.LookPath("kcat"); err != nil {
		if os.Getenv("NUNCHI_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("kcat not installed")
		}
		t.Skip("kcat not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", "-b", addr, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %s: %v: %s", topic, err, stderr.String())
	}
	var vals [][]byte
	for _, l := range bytes.Split(out, []byte("\n")) {
		if len(l) > 0 {
			vals = append(vals, l)
		}
	}
	return vals
}

// Proxy forwards TCP connections to a target; Cut closes every connection
// and refuses new ones (they are accepted and closed at once, like a broker
// that is gone) until Restore.
type Proxy struct {
	Addr   string
	target string
	ln     net.Listener
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
}

// NewProxy listens on 127.0.0.1 and forwards to target.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.Cut() })
	return p
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.Unlock()
		go p.forward(c)
	}
}

func (p *Proxy) forward(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) { io.Copy(dst, src); done <- struct{}{} }
	go cp(up, c)
	go cp(c, up)
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// Cut drops every connection and refuses new ones.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore lets connections through again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Dial routes every connection to the proxy, whatever address the broker
// advertises (a kafka-go Transport.Dial).
func (p *Proxy) Dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, p.Addr)
}

// Events returns n distinct flow, dns and tls events (ids from first), with
// community IDs spread over 97 keys; about 330 bytes of JSON each.
func Events(first, n int) []*detect.Event {
	types := []string{detect.TypeFlow, "dns", "tls"}
	out := make([]*detect.Event, n)
	for i := range out {
		id := first + i
		e := &detect.Event{
			Type: types[id%len(types)], Timestamp: int64(id) * 1e6, Sensor: "test", FlowID: uint64(id + 1),
			CommunityID: fmt.Sprintf("1:%027d=", id%97), SrcIP: netip.MustParseAddr("10.0.0.1"),
			DestIP: netip.MustParseAddr("10.0.0.2"), SrcPort: uint16(id), DestPort: 443, Proto: 6,
		}
		if e.Type == detect.TypeFlow {
			e.Flow = &detect.FlowInfo{PktsToServer: uint64(id), BytesToServer: 100}
		}
		out[i] = e
	}
	return out
}
