package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/cobra"

	"github.com/nunchi-sensor/nunchi/internal/app"
	"github.com/nunchi-sensor/nunchi/sinks/clickhouse"
)

// report is one `nunchi query` report: SQL over the sink's tables with
// {where} standing for the time and sensor filter of the table's time
// column, and {limit}.
type report struct {
	title string
	sql   string
}

// ipExpr shows an address column (FixedString(16) or IPv6, IPv4 mapped) as text.
func ipExpr(col string) string {
	return "replaceRegexpOne(IPv6NumToString(" + col + "), '^::ffff:', '')"
}

var reports = map[string]report{
	"blocked": {"Top blocked names", `SELECT block_list AS list, block_name AS name, block_surface AS surface, block_action AS action,
       sum(hits) AS hits, min(hour) AS first_hour, max(hour) AS last_hour
FROM block_1h WHERE {where:hour}
GROUP BY list, name, surface, action ORDER BY hits DESC, name LIMIT {limit}`},
	"talkers": {"Top talkers", `SELECT ` + ipExpr("src_ip") + ` AS client, count() AS flows, uniq(dest_ip) AS servers,
       sum(flow_bytes_toserver) AS bytes_sent, sum(flow_bytes_toclient) AS bytes_received
FROM flow WHERE {where:timestamp}
GROUP BY src_ip ORDER BY bytes_sent + bytes_received DESC, client LIMIT {limit}`},
	"names": {"TLS and QUIC server names", `SELECT proto, name, connections, clients, versions FROM (
  SELECT 'tls' AS proto, if(tls_sni = '', '(no SNI)', tls_sni) AS name, count() AS connections, uniq(src_ip) AS clients,
         arrayStringConcat(arraySlice(groupUniqArray(tls_version), 1, 3), ',') AS versions
  FROM tls WHERE {where:timestamp} GROUP BY name
  UNION ALL
  SELECT 'quic' AS proto, if(quic_sni = '', '(no SNI)', quic_sni) AS name, count() AS connections, uniq(src_ip) AS clients,
         arrayStringConcat(arraySlice(groupUniqArray(quic_version), 1, 3), ',') AS versions
  FROM quic WHERE {where:timestamp} GROUP BY name
) ORDER BY connections DESC, name, proto LIMIT {limit}`},
	"dns": {"DNS names", `SELECT dns_rrname AS name, countIf(dns_type = 'query') AS queries, countIf(dns_type = 'answer') AS answers,
       countIf(dns_rcode = 'NXDOMAIN') AS nxdomain, uniq(src_ip) AS clients,
       arrayStringConcat(arraySlice(groupUniqArray(dns_rrtype), 1, 4), ',') AS types
FROM dns WHERE {where:timestamp}
GROUP BY name ORDER BY queries + answers DESC, name LIMIT {limit}`},
	"nat": {"NAT gateways", `SELECT ` + ipExpr("nat_public_ip") + ` AS public_ip, max(nat_hosts_estimate) AS hosts, round(avg(nat_confidence), 2) AS confidence,
       any(nat_nat_type) AS nat_type, any(nat_port_allocation) AS ports, max(nat_cgnat) AS cgnat, max(timestamp) AS last_seen
FROM nat WHERE {where:timestamp}
GROUP BY nat_public_ip ORDER BY hosts DESC, public_ip LIMIT {limit}`},
	"anomalies": {"Anomalies", `SELECT anomaly_type AS type, anomaly_event AS event, count() AS events, uniq(src_ip) AS sources,
       min(timestamp) AS first_seen, max(timestamp) AS last_seen
FROM anomaly WHERE {where:timestamp}
GROUP BY type, event ORDER BY events DESC, type, event LIMIT {limit}`},
}

// reportOrder is the order of `nunchi query all`.
var reportOrder = []string{"blocked", "talkers", "names", "dns", "nat", "anomalies"}

type queryOptions struct {
	since  time.Duration // 0 = all rows
	sensor string
	limit  int
	now    time.Time
}

// expand fills the placeholders of a report's SQL.
func (r report) expand(o queryOptions) (string, []any) {
	sql := strings.ReplaceAll(r.sql, "{limit}", fmt.Sprint(o.limit))
	var args []any
	for {
		i := strings.Index(sql, "{where:")
		if i < 0 {
			break
		}
		j := strings.Index(sql[i:], "}")
		col := sql[i+len("{where:") : i+j]
		cond := []string{"1"}
		if o.since > 0 {
			cond = append(cond, fmt.Sprintf("%s >= toDateTime(%d)", col, o.now.Add(-o.since).Unix()))
		}
		if o.sensor != "" {
			cond = append(cond, "sensor = ?")
			args = append(args, o.sensor)
		}
		sql = sql[:i] + strings.Join(cond, " AND ") + sql[i+j+1:]
	}
	return sql, args
}

func newQueryCmd(stdout io.Writer) *cobra.Command {
	var (
		common commonFlags
		o      queryOptions
	)
	names := append([]string{"all"}, reportOrder...)
	cmd := &cobra.Command{
		Use:   "query REPORT",
		Short: "Print reports from ClickHouse: " + strings.Join(names, ", "),
		Long: "Print reports from the ClickHouse tables the sensor fills (sinks.clickhouse in the config):\n" +
			"  blocked    top blocked names per list\n" +
			"  talkers    clients with the most traffic\n" +
			"  names      TLS and QUIC server names\n" +
			"  dns        DNS names asked and answered\n" +
			"  nat        NAT gateways (nat events)\n" +
			"  anomalies  anomalies by type\n" +
			"  all        every report above",
		Args:      cobra.ExactArgs(1),
		ValidArgs: names,
		RunE: func(cmd *cobra.Command, args []string) error {
			which := args[0]
			if _, ok := reports[which]; !ok && which != "all" {
				return fmt.Errorf("query: unknown report %q (one of %s)", which, strings.Join(names, ", "))
			}
			if o.limit < 1 {
				return errors.New("query: --limit must be >= 1")
			}
			cfg, err := app.LoadConfig(common.configFile, os.Environ())
			if err != nil {
				return err
			}
			sc, tc, err := clickHouseOptions(cfg, "query")
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), sc.InsertTimeout)
			defer cancel()
			opts := &ch.Options{Addr: []string{sc.Addr}, Auth: ch.Auth{Database: sc.Database, Username: sc.Username, Password: sc.Password},
				DialTimeout: sc.DialTimeout}
			if sc.Secure {
				opts.TLS = tc
			}
			conn, err := clickhouse.Connect(ctx, opts)
			if err != nil {
				return fmt.Errorf("query: %s: %w", sc.Addr, err)
			}
			defer conn.Close()
			o.now = time.Now()
			list := []string{which}
			if which == "all" {
				list = reportOrder
			}
			for i, name := range list {
				if i > 0 {
					fmt.Fprintln(stdout)
				}
				if err := runReport(ctx, conn, stdout, reports[name], o); err != nil {
					return fmt.Errorf("query %s: %w", name, err)
				}
			}
			return nil
		},
	}
	common.add(cmd)
	cmd.Flags().DurationVar(&o.since, "since", 0, "only rows of the last DURATION (packet time), e.g. 24h; 0 = all")
	cmd.Flags().StringVar(&o.sensor, "sensor", "", "only rows from this sensor")
	cmd.Flags().IntVarP(&o.limit, "limit", "n", 20, "rows per report")
	return cmd
}

// runReport runs one report and prints it as an aligned table.
func runReport(ctx context.Context, conn driver.Conn, w io.Writer, r report, o queryOptions) error {
	sql, args := r.expand(o)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols := rows.Columns()
	types := rows.ColumnTypes()
	var table [][]string
	for rows.Next() {
		vals := make([]any, len(types))
		for i, t := range types {
			vals[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			return err
		}
		line := make([]string, len(vals))
		for i, v := range vals {
			line[i] = formatCell(reflect.ValueOf(v).Elem().Interface())
		}
		table = append(table, line)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s (%d)\n", r.title, len(table))
	if len(table) == 0 {
		fmt.Fprintln(w, "  (none)")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	upper := make([]string, len(cols))
	for i, c := range cols {
		upper[i] = strings.ToUpper(c)
	}
	fmt.Fprintln(tw, strings.Join(upper, "\t"))
	for _, line := range table {
		fmt.Fprintln(tw, strings.Join(line, "\t"))
	}
	return tw.Flush()
}

// formatCell renders one value for the terminal.
func formatCell(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return "-"
		}
		return strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return '?'
			}
			return r
		}, x)
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05")
	case float64:
		if x == math.Trunc(x) {
			return fmt.Sprintf("%.0f", x)
		}
		return fmt.Sprintf("%.2f", x)
	case []string:
		s := append([]string(nil), x...)
		sort.Strings(s)
		return strings.Join(s, ",")
	}
	return fmt.Sprint(v)
}

// clickHouseOptions returns the configured server's client options for
// command cmd ("query", "rules retro"), or an error naming cmd when the
// config names no server.
func clickHouseOptions(cfg app.Config, cmd string) (clickhouse.Config, *tls.Config, error) {
	sc, tc, err := app.ClickHouseOptions(cfg)
	if err != nil {
		return clickhouse.Config{}, nil, err
	}
	if sc.Addr == "" {
		return clickhouse.Config{}, nil, fmt.Errorf("%s: sinks.clickhouse.addr is not set in the config", cmd)
	}
	return sc, tc, nil
}
