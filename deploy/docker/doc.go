// Package docker holds no code: it is the sensor's container image
// (Dockerfile, multi-stage: Go builder, debian-slim runtime with tcpdump,
// non-root user with file capabilities) and a compose stack (sensor,
// Kafka, ClickHouse, Prometheus, Grafana with provisioned data sources and
// dashboards). Docker does not run in the test environment, so its tests
// check what can be checked without it: every YAML file under deploy/
// parses; every file compose mounts, builds or provisions exists in the
// repository; the Dockerfile copies only files that exist and that the
// build context keeps; the sensor's config loads; Prometheus scrapes the
// address the sensor listens on; and the sensor-health Grafana dashboard
// queries only series the metrics endpoint exposes. It also holds the check
// that every YAML example in README.md and docs/ loads.
package docker
