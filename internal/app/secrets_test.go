package app

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/internal/config"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

// TestSecretsNeverShown: the Kafka SASL password and the ClickHouse
// password come from files (password_file; the path itself may come from
// the environment, NUNCHI_SINKS_KAFKA_SASL_PASSWORD_FILE, or from systemd's
// LoadCredential=). The config holds only the path: `nunchi config dump`
// shows the path, never the secret; and a replay whose two servers are
// unreachable (every connection error logged, at debug level) writes the
// secret neither to its log nor to its events.
func TestSecretsNeverShown(t *testing.T) {
	const kafkaSecret, chSecret = "kafka-s3cret-9f1c", "clickhouse-s3cret-77ab"
	dir := t.TempDir()
	kpw, cpw := filepath.Join(dir, "kafka.pw"), filepath.Join(dir, "ch.pw")
	os.WriteFile(kpw, []byte(kafkaSecret+"\n"), 0o600)
	os.WriteFile(cpw, []byte(chSecret+"\n"), 0o600)
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a := ln.Addr().String()
		ln.Close()
		return a
	}
	cfgFile := writeConfig(t, "sinks:\n"+
		"  kafka:\n    brokers: ["+refused()+"]\n    close_timeout: 1s\n    sasl: {mechanism: PLAIN, username: sensor}\n"+
		"  clickhouse:\n    addr: "+refused()+"\n    close_timeout: 1s\n    dial_timeout: 200ms\n    retry_max: 200ms\n"+
		"log: {level: debug}\n")
	env := []string{"NUNCHI_SINKS_KAFKA_SASL_PASSWORD_FILE=" + kpw, "NUNCHI_SINKS_CLICKHOUSE_PASSWORD_FILE=" + cpw}
	cfg, err := LoadConfig(cfgFile, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sinks.Kafka.SASL.PasswordFile != kpw || cfg.Sinks.ClickHouse.PasswordFile != cpw {
		t.Fatalf("password files from the environment: %q %q", cfg.Sinks.Kafka.SASL.PasswordFile, cfg.Sinks.ClickHouse.PasswordFile)
	}
	dump, err := config.Marshal(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(dump, []byte(kpw)) || !bytes.Contains(dump, []byte(cpw)) {
		t.Errorf("config dump does not show the password files:\n%s", dump)
	}
	for _, s := range []string{kafkaSecret, chSecret} {
		if bytes.Contains(dump, []byte(s)) {
			t.Errorf("config dump shows a secret")
		}
	}
	// The secrets are read: ClickHouseOptions hands the password to the client.
	if sc, _, err := ClickHouseOptions(cfg); err != nil || sc.Password != chSecret {
		t.Fatalf("clickhouse password from its file: %v", err)
	}

	// The sinks log to stderr (buildSinks has no logger): capture it too.
	var logs, out syncBuffer
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	copied := make(chan struct{})
	go func() { io.Copy(&logs, r); close(copied) }()
	_, err = Replay(context.Background(), cfg, ReplayOptions{
		Files:         []string{filepath.Join(testutil.RepoRoot(t), "testdata", "demo.pcap")},
		Stdout:        &out,
		ShutdownGrace: 5 * time.Second,
	}, NewLogger(cfg.Log, &logs))
	os.Stderr = stderr
	w.Close()
	<-copied
	t.Logf("replay with both servers away: %v; %d lines of log", err, strings.Count(logs.String(), "\n"))
	for _, s := range []string{kafkaSecret, chSecret} {
		if strings.Contains(logs.String(), s) || strings.Contains(out.String(), s) {
			t.Errorf("a secret was written to the log or the events")
		}
	}
	if logs.String() == "" {
		t.Error("no log at all: the test did not exercise the error paths")
	}
}
