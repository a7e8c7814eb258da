package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/nunchi-sensor/nunchi/internal/config"
)

// MaxBatchBytes is Kafka's default message.max.bytes (1 MiB + 12 bytes of
// batch overhead); a batch larger than the broker accepts is refused whole.
const MaxBatchBytes = 1_048_588

// Config is the `sinks.kafka` section.
type Config struct {
	// Brokers to bootstrap from (host:port); empty disables the sink.
	Brokers []string `yaml:"brokers"`
	// TopicPrefix: events go to <prefix>.<event_type>.v1.
	TopicPrefix string `yaml:"topic_prefix"`
	// Compression of record batches: none | gzip | snappy | lz4 | zstd.
	Compression string `yaml:"compression"`
	// SpoolDir holds events the broker has not taken (unreachable, slow);
	// "" keeps them in memory only, and drops what does not fit.
	SpoolDir string `yaml:"spool_dir"`
	// SpoolMaxBytes bounds the spool on disk; past it events are dropped and counted.
	SpoolMaxBytes config.ByteSize `yaml:"spool_max_bytes"`
	// RequiredAcks is fixed to "all": a write counts as sent only when every
	// in-sync replica has it. The key exists so configs say so explicitly.
	RequiredAcks string `yaml:"required_acks"`
	// BatchSize is the most events per partition batch.
	BatchSize int `yaml:"batch_size"`
	// BatchBytes is the most bytes per partition batch (<= 1048588, the
	// broker's default message.max.bytes, unless the brokers allow more).
	BatchBytes config.ByteSize `yaml:"batch_bytes"`
	// BatchTimeout is the age at which a batch that is not full is sent.
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	// MemoryEvents bounds the events held in memory (queued and in flight);
	// past it events go to the spool.
	MemoryEvents int `yaml:"memory_events"`
	// WriteTimeout bounds one produce request, and metadata lookups.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// MaxAttempts per batch before its events go to the spool.
	MaxAttempts int `yaml:"max_attempts"`
	// RetryBackoffMax caps the wait between attempts to send the spool.
	RetryBackoffMax time.Duration `yaml:"retry_backoff_max"`
	// CloseTimeout is how long shutdown keeps delivering; what is left stays
	// in the spool for the next start.
	CloseTimeout time.Duration `yaml:"close_timeout"`
	// AutoCreateTopics asks the broker to create missing topics (brokers
	// with auto.create.topics.enable=false ignore it).
	AutoCreateTopics bool `yaml:"auto_create_topics"`
	// ClientID is sent to the brokers.
	ClientID string     `yaml:"client_id"`
	TLS      TLSConfig  `yaml:"tls"`
	SASL     SASLConfig `yaml:"sasl"`
}

// TLSConfig secures the broker connections.
type TLSConfig struct {
	Enabled bool `yaml:"enabled"`
	// CAFile verifies the brokers (PEM); "" uses the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate (PEM), both or neither.
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASLConfig authenticates to the brokers.
type SASLConfig struct {
	// Mechanism: "" (none) | PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	// PasswordFile holds the password (a trailing newline is ignored).
	PasswordFile string `yaml:"password_file"`
	// PasswordEnv names an environment variable holding the password
	// (Kubernetes secrets as env); used when password_file is "".
	PasswordEnv string `yaml:"password_env"`
}

// DefaultConfig returns the defaults (the sink is off: no brokers).
func DefaultConfig() Config {
	return Config{
		TopicPrefix:      "nunchi",
		Compression:      "lz4",
		SpoolMaxBytes:    config.GiB,
		RequiredAcks:     "all",
		BatchSize:        5000,
		BatchBytes:       config.MiB,
		BatchTimeout:     200 * time.Millisecond,
		MemoryEvents:     100_000,
		WriteTimeout:     10 * time.Second,
		MaxAttempts:      3,
		RetryBackoffMax:  5 * time.Second,
		CloseTimeout:     30 * time.Second,
		AutoCreateTopics: true,
		ClientID:         "nunchi",
	}
}

// Validate checks the section (also when the sink is off, so a config
// that is wrong fails before someone switches it on).
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for i, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			add("brokers[%d]: %q is not host:port", i, b)
		}
	}
	if c.TopicPrefix == "" || strings.ContainsAny(c.TopicPrefix, " /\\,:") {
		add("topic_prefix: %q is not a usable topic prefix", c.TopicPrefix)
	}
	if _, err := codec(c.Compression); err != nil {
		add("compression: %w", err)
	}
	if c.RequiredAcks != "all" {
		add("required_acks: %q: only \"all\" is supported (an event counts as sent once every in-sync replica has it)", c.RequiredAcks)
	}
	if c.SpoolMaxBytes < config.MiB {
		add("spool_max_bytes: must be at least 1MiB, got %s", c.SpoolMaxBytes)
	}
	if c.BatchSize < 1 {
		add("batch_size: must be >= 1")
	}
	if c.BatchBytes < 1024 {
		add("batch_bytes: must be at least 1KiB")
	}
	if c.BatchTimeout <= 0 || c.WriteTimeout <= 0 || c.RetryBackoffMax <= 0 || c.CloseTimeout <= 0 {
		add("batch_timeout, write_timeout, retry_backoff_max, close_timeout: must be > 0")
	}
	if c.MemoryEvents < 1 {
		add("memory_events: must be >= 1")
	}
	if c.MaxAttempts < 1 {
		add("max_attempts: must be >= 1")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		add("tls: cert_file and key_file go together")
	}
	switch c.SASL.Mechanism {
	case "":
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.SASL.Username == "" || (c.SASL.PasswordFile == "" && c.SASL.PasswordEnv == "") {
			add("sasl: %s needs username and password_file or password_env", c.SASL.Mechanism)
		}
	default:
		add("sasl.mechanism: %q is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", c.SASL.Mechanism)
	}
	return errors.Join(errs...)
}

func codec(name string) (kafkago.Compression, error) {
	switch name {
	case "none":
		return 0, nil
	case "gzip":
		return kafkago.Gzip, nil
	case "snappy":
		return kafkago.Snappy, nil
	case "lz4":
		return kafkago.Lz4, nil
	case "zstd":
		return kafkago.Zstd, nil
	}
	return 0, fmt.Errorf("%q is not one of none, gzip, snappy, lz4, zstd", name)
}

// transport builds the connection settings: TLS files and SASL credentials
// are read here, at New, so a missing file fails the start.
func (c Config) transport() (*kafkago.Transport, error) {
	t := &kafkago.Transport{ClientID: c.ClientID, DialTimeout: min(c.WriteTimeout, 10*time.Second)}
	if c.TLS.Enabled {
		tc := &tls.Config{ServerName: c.TLS.ServerName, InsecureSkipVerify: c.TLS.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
		if c.TLS.CAFile != "" {
			pem, err := os.ReadFile(c.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("tls.ca_file: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("tls.ca_file: %s holds no PEM certificate", c.TLS.CAFile)
			}
		}
		if c.TLS.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("tls: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		t.TLS = tc
	}
	if c.SASL.Mechanism != "" {
		pass, err := config.ReadSecret("sasl", c.SASL.PasswordFile, c.SASL.PasswordEnv)
		if err != nil {
			return nil, err
		}
		var m sasl.Mechanism
		switch c.SASL.Mechanism {
		case "PLAIN":
			m = plain.Mechanism{Username: c.SASL.Username, Password: pass}
		case "SCRAM-SHA-256":
			m, err = scram.Mechanism(scram.SHA256, c.SASL.Username, pass)
		case "SCRAM-SHA-512":
			m, err = scram.Mechanism(scram.SHA512, c.SASL.Username, pass)
		}
		if err != nil {
			return nil, fmt.Errorf("sasl: %w", err)
		}
		t.SASL = m
	}
	return t, nil
}
