package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/config"
	"github.com/nunchi-sensor/nunchi/sinks"
	"github.com/nunchi-sensor/nunchi/sinks/kafka/kafkatest"
	"github.com/nunchi-sensor/nunchi/sinks/spool"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var types = []string{detect.TypeFlow, "dns", "tls"}

// events returns n distinct events (ids from first) spread over types.
func events(first, n int) []*detect.Event { return kafkatest.Events(first, n) }

func testConfig(broker, spoolDir string) Config {
	c := DefaultConfig()
	c.Brokers = []string{broker}
	c.TopicPrefix = "t"
	c.SpoolDir = spoolDir
	c.BatchTimeout = 20 * time.Millisecond
	c.WriteTimeout = 3 * time.Second
	c.MaxAttempts = 2
	c.RetryBackoffMax = 300 * time.Millisecond
	c.CloseTimeout = 30 * time.Second
	return c
}

func newSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	s, err := New(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// expected maps each event's JSON to how many copies were written.
func expected(evs []*detect.Event) map[string]*detect.Event {
	m := map[string]*detect.Event{}
	for _, e := range evs {
		m[string(e.AppendJSON(nil))] = e
	}
	return m
}

// checkDelivered consumes every topic and checks each event is there (at
// least once; exactly once when exact), under the right topic and key;
// duplicates must be byte-equal (same event_id).
func checkDelivered(t *testing.T, addr string, want map[string]*detect.Event, exact bool) {
	t.Helper()
	seen := map[string]int{}
	for _, typ := range types {
		topic := "t." + typ + ".v1"
		for _, r := range kafkatest.Consume(t, addr, topic) {
			e, ok := want[string(r.Value)]
			if !ok {
				t.Fatalf("%s: unexpected value %s", topic, r.Value)
			}
			if e.Type != typ || string(r.Key) != e.CommunityID {
				t.Fatalf("%s: event of type %s, key %q (want %q)", topic, e.Type, r.Key, e.CommunityID)
			}
			seen[string(r.Value)]++
		}
	}
	dups := 0
	for v := range want {
		switch n := seen[v]; {
		case n == 0:
			t.Fatalf("event missing: %s", v)
		case n > 1:
			dups += n - 1
		}
	}
	if exact && dups > 0 {
		t.Errorf("%d duplicates", dups)
	}
	t.Logf("%d events delivered, %d duplicates (same bytes, same event_id)", len(want), dups)
}

func checkBalanced(t *testing.T, d sinks.Delivery) {
	t.Helper()
	if !d.Balanced() {
		t.Errorf("delivery does not balance: %+v", d)
	}
}

func TestDeliversEveryEventOnce(t *testing.T) {
	for _, comp := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(comp, func(t *testing.T) {
			_, addr := kafkatest.Broker(t)
			cfg := testConfig(addr, t.TempDir())
			cfg.Compression = comp
			s := newSink(t, cfg)
			s.Start()
			var all []*detect.Event
			for i := 0; i < 20; i++ {
				evs := events(i*150, 150)
				all = append(all, evs...)
				if err := s.Write(evs); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			d := s.DeliveryStats()
			checkBalanced(t, d)
			if d.Sent != 3000 || d.Pending != 0 || d.DroppedTotal() != 0 {
				t.Errorf("delivery %+v", d)
			}
			checkDelivered(t, addr, expected(all), true)
		})
	}
}

// TestBrokerCutAndRestored cuts the path to the broker while events keep
// coming, restores it, and checks nothing is lost.
func TestBrokerCutAndRestored(t *testing.T) {
	_, addr := kafkatest.Broker(t)
	p := kafkatest.NewProxy(t, addr)
	cfg := testConfig(p.Addr, t.TempDir())
	cfg.MemoryEvents = 500
	s := newSink(t, cfg)
	s.w.Transport.(*kafkago.Transport).Dial = p.Dial // the advertised address too goes through the proxy
	s.Start()
	var all []*detect.Event
	for i := 0; i < 60; i++ {
		switch i {
		case 15:
			p.Cut()
		case 45:
			p.Restore()
		}
		evs := events(i*100, 100)
		all = append(all, evs...)
		start := time.Now()
		s.Write(evs)
		if el := time.Since(start); el > 30*time.Second { // generous: Write must not wait on the broker
			t.Fatalf("Write took %v with the broker cut", el)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	d := s.DeliveryStats()
	checkBalanced(t, d)
	if d.Sent != 6000 || d.Pending != 0 || d.DroppedTotal() != 0 || d.Spooled == 0 {
		t.Errorf("delivery %+v", d)
	}
	t.Logf("delivery %+v", d)
	checkDelivered(t, addr, expected(all), false)
}

// deadBroker is an address that accepts connections and never answers.
func deadBroker(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	return ln.Addr().String()
}

// refusedAddr is an address where nothing listens.
func refusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func TestWriteNeverWaitsForADeadBroker(t *testing.T) {
	for name, addr := range map[string]string{"silent": deadBroker(t), "refusing": refusedAddr(t)} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(addr, t.TempDir())
			cfg.MemoryEvents = 1000
			cfg.CloseTimeout = time.Second
			s := newSink(t, cfg)
			s.Start()
			done := make(chan struct{})
			go func() {
				for i := 0; i < 100; i++ {
					s.Write(events(i*100, 100))
				}
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("Write blocked on a dead broker")
			}
			s.Close()
			d := s.DeliveryStats()
			checkBalanced(t, d)
			if d.Sent != 0 || d.Pending != 10000 || d.DroppedTotal() != 0 {
				t.Errorf("delivery %+v", d)
			}
		})
	}
}

func TestSpoolFullDropsAreCounted(t *testing.T) {
	cfg := testConfig(refusedAddr(t), t.TempDir())
	cfg.SpoolMaxBytes = config.MiB
	cfg.MemoryEvents = 100
	cfg.CloseTimeout = time.Second
	s := newSink(t, cfg)
	s.Start()
	for i := 0; i < 100; i++ {
		if err := s.Write(events(i*100, 100)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	d := s.DeliveryStats()
	checkBalanced(t, d)
	if d.Dropped[DropSpoolFull] == 0 || d.Sent != 0 || d.Enqueued != 10000 {
		t.Errorf("delivery %+v", d)
	}
	t.Logf("delivery %+v", d)
}

func TestNoSpoolDropsWhatMemoryCannotHold(t *testing.T) {
	cfg := testConfig(refusedAddr(t), "")
	cfg.MemoryEvents = 250
	cfg.CloseTimeout = time.Second
	s := newSink(t, cfg)
	s.Start()
	for i := 0; i < 10; i++ {
		s.Write(events(i*100, 100))
	}
	s.Close()
	d := s.DeliveryStats()
	checkBalanced(t, d)
	if d.Dropped[DropNoSpool] != 1000 {
		t.Errorf("delivery %+v", d)
	}
}

// TestSpoolLeftByAnEarlierRunIsSentFirst: a run that could not reach the
// broker leaves its events in the spool, the last record torn; the next run
// cuts the torn record and sends the rest before its own events.
func TestSpoolLeftByAnEarlierRunIsSentFirst(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(refusedAddr(t), dir)
	cfg.CloseTimeout = 500 * time.Millisecond
	s := newSink(t, cfg)
	s.Start()
	first := events(0, 500)
	s.Write(first)
	s.Close()
	if d := s.DeliveryStats(); d.Pending != 500 {
		t.Fatalf("first run: %+v", d)
	}
	// Tear the last record as a crash mid-write would.
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	last := segs[len(segs)-1]
	fi, _ := os.Stat(last)
	os.Truncate(last, fi.Size()-10)

	_, addr := kafkatest.Broker(t)
	s = newSink(t, testConfig(addr, dir))
	if st := s.SpoolStats(); st.TornRecords != 1 || st.Recovered != 499 {
		t.Fatalf("spool at restart: %+v", st)
	}
	s.Start()
	second := events(500, 300)
	s.Write(second)
	s.Close()
	d := s.DeliveryStats()
	checkBalanced(t, d)
	if d.Recovered != 499 || d.Sent != 799 || d.Pending != 0 {
		t.Errorf("second run: %+v", d)
	}
	checkDelivered(t, addr, expected(append(first[:499], second...)), true)
}

// TestKilledSensorLeavesASpoolTheNextRunSends runs a sink in a child
// process against an unreachable broker, kills it with SIGKILL while it
// writes, and sends what it spooled from a fresh sink.
func TestKilledSensorLeavesASpoolTheNextRunSends(t *testing.T) {
	if dir := os.Getenv("NUNCHI_TEST_KAFKA_CHILD"); dir != "" {
		cfg := testConfig(os.Getenv("NUNCHI_TEST_KAFKA_CHILD_BROKER"), dir)
		cfg.MemoryEvents = 10
		s, err := New(cfg, quiet)
		if err != nil {
			os.Exit(3)
		}
		s.Start()
		os.WriteFile(filepath.Join(dir, "started"), nil, 0o644)
		for i := 0; ; i += 100 {
			s.Write(events(i, 100))
		}
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledSensorLeavesASpoolTheNextRunSends$")
	cmd.Env = append(os.Environ(), "NUNCHI_TEST_KAFKA_CHILD="+dir, "NUNCHI_TEST_KAFKA_CHILD_BROKER="+refusedAddr(t))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("child did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	_, addr := kafkatest.Broker(t)
	s := newSink(t, testConfig(addr, dir))
	st := s.SpoolStats()
	if st.Recovered == 0 {
		t.Fatalf("nothing recovered: %+v", st)
	}
	s.Start()
	s.Close()
	d := s.DeliveryStats()
	checkBalanced(t, d)
	if d.Sent != st.Recovered || d.Pending != 0 {
		t.Fatalf("delivery %+v, spool %+v", d, st)
	}
	// Every delivered value is a whole event, each event_id once.
	ids := map[string]bool{}
	for _, typ := range types {
		for _, r := range kafkatest.Consume(t, addr, "t."+typ+".v1") {
			var m struct {
				Type string `json:"event_type"`
				ID   string `json:"event_id"`
			}
			if err := json.Unmarshal(r.Value, &m); err != nil || m.Type != typ || m.ID == "" {
				t.Fatalf("bad value %q: %v", r.Value, err)
			}
			if ids[m.ID] {
				t.Fatalf("event_id %s twice", m.ID)
			}
			ids[m.ID] = true
		}
	}
	if uint64(len(ids)) != st.Recovered {
		t.Errorf("%d events consumed, %d recovered", len(ids), st.Recovered)
	}
	t.Logf("killed child left %d events (%d torn records cut); all sent", st.Recovered, st.TornRecords)
}

func TestSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			_, addr := kafkatest.Broker(t, kfake.EnableSASL(), kfake.Superuser(mech, "nunchi", "s3cret"))
			pw := filepath.Join(t.TempDir(), "pw")
			os.WriteFile(pw, []byte("s3cret\n"), 0o600)
			cfg := testConfig(addr, t.TempDir())
			cfg.SASL = SASLConfig{Mechanism: mech, Username: "nunchi", PasswordFile: pw}
			s := newSink(t, cfg)
			s.Start()
			s.Write(events(0, 50))
			s.Close()
			if d := s.DeliveryStats(); d.Sent != 50 {
				t.Errorf("delivery %+v", d)
			}
			// A wrong password delivers nothing and loses nothing.
			os.WriteFile(pw, []byte("wrong"), 0o600)
			cfg.CloseTimeout = 2 * time.Second
			s = newSink(t, cfg)
			s.Start()
			s.Write(events(50, 50))
			s.Close()
			if d := s.DeliveryStats(); d.Sent != 0 || d.Pending != 50 || !d.Balanced() {
				t.Errorf("wrong password: %+v", d)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	serverTLS, caFile := selfSigned(t, dir)
	_, addr := kafkatest.Broker(t, kfake.TLS(serverTLS))
	cfg := testConfig(addr, t.TempDir())
	cfg.TLS = TLSConfig{Enabled: true, CAFile: caFile, ServerName: "localhost"}
	s := newSink(t, cfg)
	s.Start()
	s.Write(events(0, 50))
	s.Close()
	if d := s.DeliveryStats(); d.Sent != 50 {
		t.Errorf("delivery %+v", d)
	}
	// Without the CA the broker is not trusted; insecure_skip_verify accepts it.
	cfg.TLS = TLSConfig{Enabled: true, InsecureSkipVerify: true}
	cfg.SpoolDir = t.TempDir()
	s = newSink(t, cfg)
	s.Start()
	s.Write(events(50, 50))
	s.Close()
	if d := s.DeliveryStats(); d.Sent != 50 {
		t.Errorf("insecure_skip_verify: %+v", d)
	}
}

// selfSigned makes a certificate for localhost/127.0.0.1 and writes it as the CA file.
func selfSigned(t *testing.T, dir string) (*tls.Config, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, ca
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Brokers = []string{"nohost"} }, "brokers[0]"},
		{func(c *Config) { c.Compression = "brotli" }, "compression"},
		{func(c *Config) { c.RequiredAcks = "1" }, "required_acks"},
		{func(c *Config) { c.SpoolMaxBytes = 10 }, "spool_max_bytes"},
		{func(c *Config) { c.BatchSize = 0 }, "batch_size"},
		{func(c *Config) { c.TopicPrefix = "a b" }, "topic_prefix"},
		{func(c *Config) { c.TLS.CertFile = "x" }, "cert_file and key_file"},
		{func(c *Config) { c.SASL.Mechanism = "GSSAPI" }, "sasl.mechanism"},
		{func(c *Config) { c.SASL.Mechanism = "PLAIN" }, "password_file"},
	} {
		c := DefaultConfig()
		tt.mod(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("want an error about %s, got %v", tt.want, err)
		}
	}
	c := DefaultConfig()
	c.Brokers = []string{"127.0.0.1:9092"}
	c.SASL = SASLConfig{Mechanism: "PLAIN", Username: "u", PasswordFile: "/nonexistent"}
	if _, err := New(c, quiet); err == nil || !strings.Contains(err.Error(), "password_file") {
		t.Errorf("missing password file: %v", err)
	}
	if _, err := New(DefaultConfig(), quiet); err == nil {
		t.Error("New without brokers succeeded")
	}
	// Spool directories hold one sink's spool.
	c = testConfig("127.0.0.1:9092", t.TempDir())
	s := newSink(t, c)
	defer s.spool.Close()
	if _, err := New(c, quiet); err == nil {
		t.Error("two sinks opened one spool")
	}
	_ = spool.ErrFull
}

func TestCloseWithoutStart(t *testing.T) {
	cfg := testConfig(refusedAddr(t), t.TempDir())
	s := newSink(t, cfg)
	s.Write(events(0, 10))
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Close hangs when Start was never called")
	}
	if d := s.DeliveryStats(); d.Pending != 10 || !d.Balanced() {
		t.Errorf("delivery %+v", d)
	}
}
