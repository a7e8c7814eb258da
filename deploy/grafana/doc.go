// Package grafana holds nunchi's Grafana dashboards (dashboards/*.json, for
// the grafana-clickhouse-datasource plugin) and their provisioning files.
// It has no code: its test expands every panel's SQL macros the way the
// plugin does and runs the queries against a test ClickHouse filled by a
// replay (see README.md).
package grafana
