package clickhouse

import (
	"errors"
	"fmt"
	"time"
)

// Config is the sink's configuration (internal/app maps the `sinks.clickhouse`
// section onto it).
type Config struct {
	Addr     string // host:port of the native protocol (9000)
	Database string
	Username string
	Password string
	// Secure dials TLS (the native TLS port, 9440); the tls.Config comes in Deps.
	Secure bool

	// BatchSize is the number of events per insert; BatchAge bounds how long
	// an event waits for its batch to fill (checked at each fan-out flush tick).
	BatchSize int
	BatchAge  time.Duration
	// QueueBatches is how many full batches wait in memory for the sender
	// before new ones go to the spool.
	QueueBatches int

	// RetryMin and RetryMax bound the exponential backoff between attempts.
	RetryMin, RetryMax time.Duration
	// MaxAttempts bounds attempts for a batch the server refuses with an
	// error that is not transient (after that: dropped(rejected)).
	// Connection errors are retried until the server returns.
	MaxAttempts int

	DialTimeout   time.Duration
	InsertTimeout time.Duration
	// CloseTimeout is how long Close keeps trying an unreachable server
	// before it leaves what is unsent in the spool.
	CloseTimeout time.Duration

	// RetentionDays keeps raw event rows this many days (0 = forever);
	// RollupRetentionDays the same for the rollup tables. TTL where the
	// server supports it, day-partition drops by the sink otherwise.
	RetentionDays       int
	RollupRetentionDays int
	// RetentionCheck is how often partition drops run (legacy servers).
	RetentionCheck time.Duration
}

// DefaultConfig returns the defaults (no address: the sink is off).
func DefaultConfig() Config {
	return Config{
		Database:       "nunchi",
		Username:       "default",
		BatchSize:      20000,
		BatchAge:       5 * time.Second,
		QueueBatches:   4,
		RetryMin:       200 * time.Millisecond,
		RetryMax:       5 * time.Second,
		MaxAttempts:    5,
		DialTimeout:    5 * time.Second,
		InsertTimeout:  60 * time.Second,
		CloseTimeout:   10 * time.Second,
		RetentionCheck: time.Hour,
	}
}

// Validate checks the settings.
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v < 1 {
			errs = append(errs, fmt.Errorf("%s: must be >= 1, got %d", name, v))
		}
	}
	posDur := func(name string, v time.Duration) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be > 0", name))
		}
	}
	if c.Database == "" {
		errs = append(errs, errors.New("database: must not be empty"))
	}
	pos("batch_size", c.BatchSize)
	pos("queue_batches", c.QueueBatches)
	pos("max_attempts", c.MaxAttempts)
	posDur("batch_age", c.BatchAge)
	posDur("retry_min", c.RetryMin)
	posDur("dial_timeout", c.DialTimeout)
	posDur("insert_timeout", c.InsertTimeout)
	posDur("retention_check", c.RetentionCheck)
	if c.RetryMax < c.RetryMin {
		errs = append(errs, errors.New("retry_max: must be >= retry_min"))
	}
	if c.CloseTimeout < 0 {
		errs = append(errs, errors.New("close_timeout: must be >= 0"))
	}
	if c.RetentionDays < 0 || c.RollupRetentionDays < 0 {
		errs = append(errs, errors.New("retention_days, rollup_retention_days: must be >= 0"))
	}
	return errors.Join(errs...)
}
