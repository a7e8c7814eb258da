package clickhouse

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// applyRetention enforces RetentionDays (event tables) and
// RollupRetentionDays (rollups). Servers with TTL get a table TTL (set at
// each connect, so a changed setting takes effect); older servers lose
// whole day partitions older than the limit, checked every RetentionCheck.
// Retention counts wall-clock days: replaying an old capture into a
// database with retention loses it at the next check.
func (s *Sink) applyRetention() {
	if s.conn == nil || (s.cfg.RetentionDays == 0 && s.cfg.RollupRetentionDays == 0) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.InsertTimeout)
	defer cancel()
	db := quoteIdent(s.cfg.Database)
	type target struct {
		table, col string
		days       int
	}
	var targets []target
	for _, t := range EventTables {
		targets = append(targets, target{t, "timestamp", s.cfg.RetentionDays})
	}
	for t, col := range RollupTables {
		targets = append(targets, target{t, col, s.cfg.RollupRetentionDays})
	}
	for _, tg := range targets {
		if tg.days == 0 {
			continue
		}
		if s.dialect.TTL {
			q := fmt.Sprintf("ALTER TABLE %s.%s MODIFY TTL toDateTime(%s) + INTERVAL %d DAY", db, quoteIdent(tg.table), tg.col, tg.days)
			if err := s.conn.Exec(ctx, q); err != nil {
				s.logErr("retention: set TTL failed", err)
			}
			continue
		}
		if err := s.dropPartitions(ctx, tg.table, tg.days); err != nil {
			s.logErr("retention: partition drop failed", err)
		}
	}
}

// dropPartitions drops the day partitions (toYYYYMMDD) of a table that end
// before today minus days.
func (s *Sink) dropPartitions(ctx context.Context, table string, days int) error {
	cutoff := time.Now().UTC().AddDate(0, 0, -days).Format("20060102")
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT partition_id FROM system.parts WHERE database = ? AND table = ? AND active AND partition_id < ?",
		s.cfg.Database, table, cutoff)
	if err != nil {
		return err
	}
	var parts []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return err
		}
		if _, err := strconv.Atoi(p); err == nil && len(p) == 8 {
			parts = append(parts, p)
		}
	}
	rows.Close()
	for _, p := range parts {
		q := fmt.Sprintf("ALTER TABLE %s.%s DROP PARTITION %s", quoteIdent(s.cfg.Database), quoteIdent(table), p)
		if err := s.conn.Exec(ctx, q); err != nil {
			return err
		}
		s.log.Info("retention: dropped partition", "table", table, "partition", p)
	}
	return nil
}
