// Package detect holds nunchi's events and, in later issues, the protocol
// parsers and classifiers that produce them.
//
// Event is the public contract of DESIGN.md §4: one EVE-shaped JSON object
// per line. Field names are never renamed; new fields may be added. Events
// are built only when there is something to report (a flow ends, a name is
// seen), never per packet, and once published they are shared read-only by
// every sink. AppendJSON encodes without reflection into a caller's buffer;
// strings from the network are escaped so that the output is always valid
// JSON (invalid UTF-8 becomes U+FFFD).
package detect
