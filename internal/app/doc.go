// Package app wires nunchi's components from a Config: it owns the config
// file's schema (composed of each package's own Config section), builds the
// pipeline and sinks in dependency order, and shuts them down in reverse
// (capture → shards drain and flush flows → fan-out → sinks flush with a
// grace period). cmd/nunchi is a thin layer of flags over this package.
package app
