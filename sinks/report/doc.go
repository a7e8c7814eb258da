// Package report is a sink that turns a run's events into one offline,
// self-contained HTML report (nunchi replay FILE --report out.html).
//
// Contract:
//
//   - Events are aggregated as they stream, in bounded memory whatever the
//     capture's size: every "top" table (talkers, services, blocked names,
//     TLS and QUIC SNIs, HTTP hosts, DNS names, NAT, anomaly and inject
//     parties) tracks at most Config.Track keys with the Space-Saving
//     algorithm (a map plus a min-heap); counts that may be over-estimated
//     because a key was admitted after an eviction are marked "≈" with their
//     error bound. Traffic over time is kept in at most Config.Buckets
//     buckets of packet time (1440 by default), starting at one second
//     wide; when a capture spans more, the width moves up a ladder of
//     widths that divide each other (5 s, 10 s, 30 s, 1 min, 5 min … 1 day)
//     and neighbours merge: a day of capture is kept per minute. Charts
//     merge further, on a copy, to at most 240 bars. Other maps are
//     keyed by small fixed sets (event types, block lists up to Track).
//     Every string the report keeps is its own copy: events may hold their
//     strings in a shard's slabs (detect.Arena), and keeping one name would
//     keep its whole slab alive.
//   - Close writes the page once: rendered into a temporary file next to
//     the path (created by New, so an unwritable path fails before the run),
//     synced, then renamed over the path.
//   - The page is one file: CSS, SVG charts (drawn in Go) and a few lines of
//     vanilla JavaScript (table sorting) are inline; it references nothing
//     outside itself, and its Content-Security-Policy forbids any fetch.
//     Everything that came from the wire (names, URLs, addresses) is escaped
//     by html/template.
//   - Injections are listed by blocked name with their kinds and outcomes
//     (won, lost, unknown, dry run) and latency quantiles from a fixed
//     power-of-two histogram. Sections for event types this build does not
//     emit yet (nat, anomaly) show "None in this capture."; once they exist
//     they list the events' endpoints, until the report learns their fields.
//     Every empty section says "None in this capture."
//   - The final stats event, when there is one, is shown as it was written
//     (every member, in its order) and feeds the summary cards.
package report
