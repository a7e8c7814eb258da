package clickhouse

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Dialect is the DDL vocabulary of one server version. The Go insert path
// is the same for every dialect: it reads the column types back from the
// server and fills them from the events' JSON (see block.go).
type Dialect struct {
	Name string // "modern" or "legacy", recorded in the migrations table
	// IP is the type of address columns: IPv6 (19.3+) or FixedString(16);
	// both hold IPv4 as IPv4-mapped IPv6.
	IP string
	// Time is the type of timestamps: DateTime64(6) (20.1+, microseconds)
	// or DateTime (whole seconds).
	Time string
	// LC is the type of low-cardinality strings: LowCardinality(String)
	// (18.12+; experimental before 19.1, enabled per session with
	// allow_experimental_low_cardinality_type=1) or String.
	LC string
	// ExperimentalLC is set when LowCardinality needs the session setting.
	ExperimentalLC bool
	// TTL: the server expires rows by TTL (19.6+); otherwise the sink drops
	// whole day partitions past the retention.
	TTL bool
}

// DialectFor returns the dialect of a server version (major.minor).
func DialectFor(major, minor int) Dialect {
	atLeast := func(ma, mi int) bool { return major > ma || (major == ma && minor >= mi) }
	d := Dialect{Name: "legacy", IP: "FixedString(16)", Time: "DateTime", LC: "String"}
	if atLeast(18, 12) {
		d.LC = "LowCardinality(String)"
		d.ExperimentalLC = !atLeast(19, 1)
	}
	if atLeast(19, 3) {
		d.IP = "IPv6"
	}
	if atLeast(19, 6) {
		d.TTL = true
	}
	if atLeast(20, 1) {
		d.Time = "DateTime64(6, 'UTC')"
		d.Name = "modern"
	}
	return d
}

// commonColumnsV1 are the columns of every event table as created by
// migration 0001. Frozen: later columns come in later migrations.
const commonColumnsV1 = `timestamp ${TIME},
    sensor ${LC},
    flow_id UInt64,
    community_id String,
    src_ip ${IP},
    src_port UInt16,
    dest_ip ${IP},
    dest_port UInt16,
    proto ${LC},
    icmp_type UInt8,
    icmp_code UInt8,
    vlan Array(UInt16),
    tunnel_type ${LC},
    tunnel_outer_src_ip ${IP},
    tunnel_outer_dest_ip ${IP},
    tunnel_vni UInt32,
    tunnel_key UInt32,
    tunnel_call_id UInt32,
    tunnel_session_id UInt32,
    tunnel_depth UInt8,
    app_proto ${LC},
    event_id String`

// EventTables are the per-event-type tables, named after event_type.
var EventTables = []string{"flow", "http", "tls", "quic", "dns", "block", "inject", "nat", "anomaly", "stats"}

// RollupTables are the SummingMergeTree rollups and the time column of each.
var RollupTables = map[string]string{"flow_1m": "minute", "flow_1h": "hour", "block_1m": "minute", "block_1h": "hour"}

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one versioned schema step, embedded in the binary.
type Migration struct {
	Version int
	Name    string
	SQL     string // with ${DB}, ${TIME}, ${IP}, ${LC}, ${COMMON} placeholders
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Migrations returns the embedded migrations in version order.
func Migrations() []Migration {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	var out []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			panic("sinks/clickhouse: bad migration file name " + e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		b, _ := migrationFS.ReadFile("migrations/" + e.Name())
		out = append(out, Migration{Version: v, Name: m[2], SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// Statements expands the placeholders of m for a database and dialect and
// splits it into statements.
func (m Migration) Statements(db string, d Dialect) []string {
	var lines []string
	for _, l := range strings.Split(m.SQL, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
			lines = append(lines, l)
		}
	}
	sql := strings.Join(lines, "\n") + "\n"
	sql = strings.ReplaceAll(sql, "${COMMON}", commonColumnsV1)
	r := strings.NewReplacer("${DB}", quoteIdent(db), "${TIME}", d.Time, "${IP}", d.IP, "${LC}", d.LC)
	sql = r.Replace(sql)
	var out []string
	for _, part := range strings.Split(sql, ";\n") {
		if s := strings.TrimSpace(part); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// quoteIdent quotes a ClickHouse identifier with back quotes.
func quoteIdent(s string) string {
	return "`" + strings.NewReplacer("\\", "\\\\", "`", "\\`").Replace(s) + "`"
}

// migrate creates the database and the migrations table, then applies
// every migration newer than the last one recorded. Statements are
// idempotent (IF NOT EXISTS), so two sensors migrating at once, or a
// migration interrupted half-way, end in the same schema.
func migrate(ctx context.Context, conn driver.Conn, db string, d Dialect) (applied int, err error) {
	q := quoteIdent(db)
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+q); err != nil {
		return 0, fmt.Errorf("create database: %w", err)
	}
	if err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+q+".schema_migrations (version UInt32, name String, dialect String, applied_at DateTime) ENGINE = MergeTree ORDER BY version"); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	var current uint32
	if err := conn.QueryRow(ctx, "SELECT max(version) FROM "+q+".schema_migrations").Scan(&current); err != nil {
		return 0, fmt.Errorf("read schema_migrations: %w", err)
	}
	for _, m := range Migrations() {
		if uint32(m.Version) <= current {
			continue
		}
		for _, stmt := range m.Statements(db, d) {
			if have, err := columnExists(ctx, conn, db, stmt); err != nil {
				return applied, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
			} else if have {
				continue
			}
			if err := conn.Exec(ctx, stmt); err != nil {
				return applied, fmt.Errorf("migration %04d_%s: %w (statement: %.120s…)", m.Version, m.Name, err, stmt)
			}
		}
		// A batch, not INSERT … VALUES in the query text: 18.16 waits for a
		// data block after an INSERT over the native protocol.
		b, err := conn.PrepareBatch(ctx, "INSERT INTO "+q+".schema_migrations (version, name, dialect, applied_at)")
		if err == nil {
			if err = b.Append(uint32(m.Version), m.Name, d.Name, time.Now().UTC()); err == nil {
				err = b.Send()
			} else {
				b.Abort()
			}
		}
		if err != nil {
			return applied, fmt.Errorf("record migration %04d: %w", m.Version, err)
		}
		applied++
	}
	return applied, nil
}

var addColumn = regexp.MustCompile("(?is)^ALTER\\s+TABLE\\s+`?([^`.\\s]+)`?\\.`?([^`\\s]+?)`?\\s+ADD\\s+COLUMN\\s+`?([A-Za-z0-9_]+)`?\\s")

// columnExists reports whether stmt is an ALTER TABLE … ADD COLUMN whose
// column is already there (18.x has no ADD COLUMN IF NOT EXISTS).
func columnExists(ctx context.Context, conn driver.Conn, db, stmt string) (bool, error) {
	m := addColumn.FindStringSubmatch(stmt)
	if m == nil {
		return false, nil
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?", db, m[2], m[3]).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}
