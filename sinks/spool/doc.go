// Package spool is a bounded, append-only, on-disk FIFO of opaque records,
// for sinks that must hold events while their server is unreachable (Kafka,
// ClickHouse). The records are whatever the sink needs to send again; nunchi's
// sinks store the event JSON lines.
//
// # Contract
//
//   - [Open] takes a directory that belongs to one spool (an exclusive lock
//     file refuses a second process). It scans every unacknowledged record,
//     so the count is exact and a damaged tail is found at once: a record cut
//     short by a crash (kill -9 mid-write) or failing its checksum is cut off
//     the file and counted (Stats.TornRecords / TornBytes); everything before it
//     is kept. Opening takes time proportional to the unacknowledged bytes.
//   - [Spool.Append] never blocks on anything but the disk and never panics.
//     When the records would take the spool past MaxBytes, it appends the ones
//     that fit, in order, and returns how many with an error wrapping [ErrFull];
//     a write error (disk full) cuts the file back to the last whole record and
//     returns an error wrapping [ErrWrite]. The caller counts what was not
//     appended as dropped. A record larger than MaxRecordBytes is refused with
//     [ErrTooLarge]. Appended bytes are in the kernel when Append returns, so
//     they survive a crash of the process (not a power loss: there is no fsync
//     per append).
//   - [Spool.Read] returns the oldest unacknowledged records, in append order,
//     up to a count and a byte budget (at least one record when any is
//     waiting). It does not move the read position: reading again without
//     acknowledging returns the same records (a retry after a failed send).
//     The returned slices belong to the caller.
//   - [Spool.Ack] acknowledges a batch from the last Read: the read position
//     moves past it and is persisted (a small file, replaced atomically), and
//     segment files wholly acknowledged are deleted. After a restart reading
//     resumes at the persisted position; a crash between a send and its Ack
//     means those records are read (and sent) again — consumers de-duplicate
//     on the event_id each event carries.
//   - Size: Stats.Bytes counts the segment files on disk, including the
//     acknowledged head of the oldest segment until that segment is deleted,
//     so at most one segment (SegmentBytes) of MaxBytes is such slack.
//
// # Format
//
// Segment files are named by a sequence number (00000000000000000001.seg) and
// start with an 8-byte magic ("NSPOOL1\n"). Each record is a 4-byte
// little-endian payload length, a 4-byte CRC-32C over the length and the
// payload, then the payload. The read position (segment, offset) lives in
// read.pos with its own CRC; a missing or damaged one restarts at the oldest
// segment (duplicates, never loss).
//
// # Concurrency
//
// All methods are safe for concurrent use; the usual shape is one appender
// (the sink's Write) and one reader (its background sender).
package spool
