package clickhouse

import (
	"fmt"
	"strings"
)

// KafkaEngine configures the scale-out path: ClickHouse itself consumes
// the topics the Kafka sink writes (<prefix>.<event_type>.v1, one JSON
// line per message) into the same event tables, through Kafka engine
// tables and materialized views. Placeholders such as "${KAFKA_BROKERS}"
// are fine: the statements are text.
type KafkaEngine struct {
	Brokers     string // host:port,host:port
	TopicPrefix string // the Kafka sink's topic_prefix ("nunchi")
	// Group names the consumer groups: one per table, Group + "." + event
	// type. Tables sharing one group rebalance each other at every join,
	// and 18.16 re-reads what it had not committed then (duplicates).
	Group     string
	Consumers int // consumers per table (≤ partitions)
}

// Members of nested objects the Kafka engine's JSONEachRow cannot reach on
// the servers this SQL supports (input_format_import_nested_json goes one
// level deep; arrays of objects and whole objects are skipped): these
// columns keep their defaults on the Kafka path.
// A member that is an object where the Kafka table has a String column
// would stop the table's consumer ("Cannot parse JSON string: expected
// opening quote: (while read the value of key anomaly.detail)"), so such
// members (stats, anomaly.detail) are left out too.
var kafkaUnreachable = []string{"tls_ja3_", "tls_ja3s_", "quic_ja3_", "dns_answers_", "nat_evidence_", "stats", "anomaly_detail"}

// eventObjects are the event's nested objects: a column "flow_pkts_toserver"
// is the member "flow.pkts_toserver".
var eventObjects = []string{"flow", "http", "tls", "quic", "dns", "block", "inject", "nat", "anomaly", "tunnel"}

// KafkaColumns returns, for the columns of one event table, the JSON path
// of each column the Kafka engine can fill ("flow_pkts_toserver" →
// "flow.pkts_toserver"). Besides kafkaUnreachable, only the first array
// column of each nested object is kept: ClickHouse takes Array columns
// named "tls.x" and "tls.y" for a Nested structure and refuses blocks whose
// arrays differ in length (18.16: "Elements 'tls.alpn' and
// 'tls.cipher_suites' of Nested data structure 'tls' (Array columns) have
// different array sizes"), so tls_cipher_suites, tls_supported_versions and
// tls_extensions are not on the Kafka path.
func KafkaColumns(cols []Column) map[string]string {
	out := map[string]string{}
	arrays := map[string]bool{}
	for _, c := range cols {
		path := kafkaPath(c.Name)
		kind, _, ok := parseKind(c.Type)
		if path == "" || !ok {
			continue
		}
		if obj, _, nested := strings.Cut(path, "."); nested && (kind == kArrString || kind == kArrUint) {
			if arrays[obj] {
				continue
			}
			arrays[obj] = true
		}
		out[c.Name] = path
	}
	return out
}

// topLevel are the columns of commonColumnsV1 (top-level members), some of
// which look nested by name (flow_id).
var topLevel = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(commonColumnsV1, ",") {
		if f := strings.Fields(l); len(f) > 0 {
			m[f[0]] = true
		}
	}
	return m
}()

func kafkaPath(col string) string {
	if topLevel[col] && !strings.HasPrefix(col, "tunnel_") {
		return col
	}
	for _, u := range kafkaUnreachable {
		if strings.HasPrefix(col, u) || col == strings.TrimSuffix(u, "_") {
			return ""
		}
	}
	for _, o := range eventObjects {
		if rest, ok := strings.CutPrefix(col, o+"_"); ok {
			return o + "." + rest
		}
	}
	return col
}

// KafkaEngineSQL returns the statements that create, for every event table
// of cols (as read from system.columns), a Kafka engine table reading its
// topic and a materialized view into the event table. The Kafka tables keep
// addresses and times as text, converted in the view by the dialect's
// functions. Servers need input_format_import_nested_json=1 and
// input_format_skip_unknown_fields=1 in the default profile (the Kafka
// engine's background consumers use it); see deploy/clickhouse/README.md.
func KafkaEngineSQL(db string, d Dialect, cols map[string][]Column, k KafkaEngine) []string {
	q := quoteIdent(db)
	var out []string
	for _, table := range EventTables {
		var defs, exprs []string
		reach := KafkaColumns(cols[table])
		for _, c := range cols[table] {
			kind, bits, fillable := parseKind(c.Type)
			path, ok := reach[c.Name]
			if !ok {
				// 18.16's views into a TO table must name every column: the default.
				if fillable {
					exprs = append(exprs, fmt.Sprintf("    %s AS %s", zeroExpr(d, c.Type, kind, bits), c.Name))
				}
				continue
			}
			src := "`" + path + "`"
			typ := strings.ReplaceAll(c.Type, "LowCardinality(String)", "String")
			expr := src
			if strings.HasPrefix(c.Type, "LowCardinality(") {
				// 18.16 does not convert String to LowCardinality(String) on its own.
				expr = "toLowCardinality(" + src + ")"
			}
			switch kind {
			case kIP:
				typ = "String"
				if d.IP == "IPv6" {
					expr = "toIPv6OrDefault(" + src + ")"
				} else {
					expr = "multiIf(" + src + " = '', toFixedString('', 16), position(" + src + ", ':') > 0, IPv6StringToNum(" + src + "), IPv4ToIPv6(IPv4StringToNum(" + src + ")))"
				}
			case kTime:
				typ = "String"
				if strings.HasPrefix(d.Time, "DateTime64") {
					expr = "parseDateTime64BestEffortOrZero(" + src + ", 6, 'UTC')"
				} else {
					expr = "parseDateTimeBestEffortOrZero(" + src + ")"
				}
			}
			defs = append(defs, fmt.Sprintf("    %s %s", src, typ))
			exprs = append(exprs, fmt.Sprintf("    %s AS %s", expr, c.Name))
		}
		if len(defs) == 0 {
			continue
		}
		topic := k.TopicPrefix + "." + table + ".v1"
		out = append(out,
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.kafka_%s (\n%s\n) ENGINE = Kafka SETTINGS\n    kafka_broker_list = '%s',\n    kafka_topic_list = '%s',\n    kafka_group_name = '%s',\n    kafka_format = 'JSONEachRow',\n    kafka_num_consumers = %d",
				q, table, strings.Join(defs, ",\n"), k.Brokers, topic, k.Group+"."+table, max(k.Consumers, 1)),
			fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s.kafka_%s_mv TO %s.%s AS\nSELECT\n%s\nFROM %s.kafka_%s",
				q, table, q, quoteIdent(table), strings.Join(exprs, ",\n"), q, table))
	}
	return out
}

// zeroExpr is a column's zero value as an expression of its type.
func zeroExpr(d Dialect, typ string, k kind, bits int) string {
	switch k {
	case kString:
		if strings.HasPrefix(typ, "LowCardinality(") {
			return "toLowCardinality('')"
		}
		return "''"
	case kIP:
		if d.IP == "IPv6" {
			return "toIPv6('::')"
		}
		return "toFixedString('', 16)"
	case kTime:
		if strings.HasPrefix(d.Time, "DateTime64") {
			return "toDateTime64(0, 6, 'UTC')"
		}
		return "toDateTime(0)"
	case kUint:
		return fmt.Sprintf("toUInt%d(0)", bits)
	case kInt:
		return fmt.Sprintf("toInt%d(0)", bits)
	case kFloat:
		return fmt.Sprintf("toFloat%d(0)", bits)
	case kArrString:
		return "emptyArrayString()"
	default:
		return fmt.Sprintf("emptyArrayUInt%d()", bits)
	}
}
