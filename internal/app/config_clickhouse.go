package app

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nunchi-sensor/nunchi/internal/config"
	"github.com/nunchi-sensor/nunchi/sinks"
	"github.com/nunchi-sensor/nunchi/sinks/clickhouse"
)

// ClickHouseConfig is the ClickHouse sink's section (sinks/clickhouse doc.go
// has the delivery model). The sink is on when addr is set.
type ClickHouseConfig struct {
	// Addr is host:port of the native protocol (9000; 9440 with tls).
	Addr     string `yaml:"addr"`
	Database string `yaml:"database"`
	Username string `yaml:"username"`
	// PasswordFile holds the password (one line); "" = no password.
	PasswordFile string `yaml:"password_file"`
	// PasswordEnv names an environment variable holding the password;
	// used when password_file is "".
	PasswordEnv string `yaml:"password_env"`
	// SpoolDir is the on-disk spool (sinks/spool) for batches the server
	// cannot take now, kept across restarts; "" = a memory spool of
	// spool_max_bytes (what it holds at exit is lost, counted).
	SpoolDir      string          `yaml:"spool_dir"`
	SpoolMaxBytes config.ByteSize `yaml:"spool_max_bytes"`
	TLS           ClickHouseTLS   `yaml:"tls"`
	// BatchSize events per insert; BatchAge: the longest an event waits for its batch.
	BatchSize int           `yaml:"batch_size"`
	BatchAge  time.Duration `yaml:"batch_age"`
	// QueueBatches full batches wait in memory before new ones are spooled.
	QueueBatches int `yaml:"queue_batches"`
	// RetryMin…RetryMax: exponential backoff between attempts.
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
	// MaxAttempts for rows the server refuses (not for an unreachable server).
	MaxAttempts   int           `yaml:"max_attempts"`
	DialTimeout   time.Duration `yaml:"dial_timeout"`
	InsertTimeout time.Duration `yaml:"insert_timeout"`
	// CloseTimeout: how long shutdown keeps trying an unreachable server.
	CloseTimeout time.Duration `yaml:"close_timeout"`
	// RetentionDays of raw event rows and RollupRetentionDays of the rollups
	// (0 = keep). Wall-clock days: a replayed old capture is dropped too.
	RetentionDays       int           `yaml:"retention_days"`
	RollupRetentionDays int           `yaml:"rollup_retention_days"`
	RetentionCheck      time.Duration `yaml:"retention_check"`
	// Backpressure: when the server answers but is slower than the sensor,
	// wait for it (on) or spool (off). auto = on for a replay (no
	// capture.interfaces: the replay waits, so a capture larger than the
	// spool loses nothing), off for live capture (the spool absorbs bursts).
	// A failing server is never waited for.
	Backpressure string `yaml:"backpressure"`
}

// ClickHouseTLS configures TLS to the server.
type ClickHouseTLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Validate implements config validation.
func (c ClickHouseConfig) Validate() error {
	errs := []error{c.sinkConfig("").Validate()}
	if c.SpoolMaxBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("spool_max_bytes: must be >= 1MiB, got %d", c.SpoolMaxBytes))
	}
	switch c.Backpressure {
	case "auto", "on", "off":
	default:
		errs = append(errs, fmt.Errorf("backpressure: %q is not one of auto, on, off", c.Backpressure))
	}
	if c.TLS.CAFile != "" && !c.TLS.Enabled {
		errs = append(errs, errors.New("tls.ca_file: set tls.enabled too"))
	}
	return errors.Join(errs...)
}

func (c ClickHouseConfig) sinkConfig(password string) clickhouse.Config {
	return clickhouse.Config{
		Addr: c.Addr, Database: c.Database, Username: c.Username, Password: password, Secure: c.TLS.Enabled,
		BatchSize: c.BatchSize, BatchAge: c.BatchAge, QueueBatches: c.QueueBatches,
		RetryMin: c.RetryMin, RetryMax: c.RetryMax, MaxAttempts: c.MaxAttempts,
		DialTimeout: c.DialTimeout, InsertTimeout: c.InsertTimeout, CloseTimeout: c.CloseTimeout,
		RetentionDays: c.RetentionDays, RollupRetentionDays: c.RollupRetentionDays, RetentionCheck: c.RetentionCheck,
	}
}

func defaultClickHouseConfig() ClickHouseConfig {
	d := clickhouse.DefaultConfig()
	return ClickHouseConfig{
		Database: d.Database, Username: d.Username, SpoolMaxBytes: 256 << 20,
		BatchSize: d.BatchSize, BatchAge: d.BatchAge, QueueBatches: d.QueueBatches,
		RetryMin: d.RetryMin, RetryMax: d.RetryMax, MaxAttempts: d.MaxAttempts,
		DialTimeout: d.DialTimeout, InsertTimeout: d.InsertTimeout, CloseTimeout: d.CloseTimeout,
		RetentionCheck: d.RetentionCheck, Backpressure: "auto",
	}
}

// ClickHouseOptions returns what a client of the configured server needs
// (nunchi query): the sink config with the password read, and TLS.
func ClickHouseOptions(cfg Config) (clickhouse.Config, *tls.Config, error) {
	c := cfg.Sinks.ClickHouse
	password, err := config.ReadSecret("sinks.clickhouse", c.PasswordFile, c.PasswordEnv)
	if err != nil {
		return clickhouse.Config{}, nil, err
	}
	var tc *tls.Config
	if c.TLS.Enabled {
		tc = &tls.Config{ServerName: c.TLS.ServerName, InsecureSkipVerify: c.TLS.InsecureSkipVerify}
		if c.TLS.CAFile != "" {
			pem, err := os.ReadFile(c.TLS.CAFile)
			if err != nil {
				return clickhouse.Config{}, nil, fmt.Errorf("sinks.clickhouse.tls.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return clickhouse.Config{}, nil, errors.New("sinks.clickhouse.tls.ca_file: no certificate found")
			}
			tc.RootCAs = pool
		}
	}
	return c.sinkConfig(password), tc, nil
}

// clickhouseSinks builds the ClickHouse sink when an address is configured.
func clickhouseSinks(cfg Config) ([]sinks.Sink, error) {
	if cfg.Sinks.ClickHouse.Addr == "" {
		return nil, nil
	}
	sc, tc, err := ClickHouseOptions(cfg)
	if err != nil {
		return nil, err
	}
	c := cfg.Sinks.ClickHouse
	var sp clickhouse.Spool = clickhouse.NewMemSpool(int64(c.SpoolMaxBytes))
	if c.SpoolDir != "" {
		if sp, err = clickhouse.OpenDiskSpool(c.SpoolDir, int64(c.SpoolMaxBytes)); err != nil {
			return nil, err
		}
	}
	s, err := clickhouse.New(sc, clickhouse.Deps{
		Log:   NewLogger(cfg.Log, os.Stderr).With("sink", "clickhouse"),
		Spool: sp,
		TLS:   tc,
	})
	if err != nil {
		sp.Close()
		return nil, err
	}
	s.SetBackpressure(c.Backpressure == "on" || (c.Backpressure == "auto" && len(cfg.Capture.Interfaces) == 0))
	s.Start()
	return []sinks.Sink{s}, nil
}
