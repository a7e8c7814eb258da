package http

import (
	"github.com/nunchi-sensor/nunchi/detect"
)

// Bounds. They keep a hostile stream from costing more than a few KiB of
// state per flow; see doc.go for what happens when one is reached.
const (
	// MaxHeaderBytes is the largest header block (start line included) of
	// one message that is parsed.
	MaxHeaderBytes = 16 << 10
	// MaxPending is how many requests may wait for their responses.
	MaxPending = 32
	// MaxTransactions: after this many events the parser says Done.
	MaxTransactions = 64

	maxURL   = 2048
	maxUA    = 512
	maxField = 512 // Host, Referer, XFF, Content-Type, Location
)

// Parser states, per direction.
const (
	stStart      uint8 = iota // expecting a start line (request or status line)
	stHeaders                 // header lines
	stBodyLen                 // Content-Length body: remain bytes left
	stChunkSize               // chunk-size line
	stChunkData               // chunk data: remain bytes left
	stChunkEnd                // the CRLF after chunk data
	stTrailers                // trailer lines after the last chunk
	stUntilClose              // close-delimited response body
	stResync                  // lost framing: skip lines until a start line
)

// Header names the parser keeps.
const (
	hNone uint8 = iota
	hHost
	hUA
	hReferer
	hXFF
	hContentType
	hContentLength
	hTransferEncoding
	hLocation
)

// half is the state of one direction.
type half struct {
	state    uint8
	line     []byte // a line split across Data calls; never longer than MaxHeaderBytes
	lineOver bool   // the current line went past the bound: skip to its LF
	hdrBytes int    // bytes of the current header block (start line included)

	remain  int64 // stBodyLen, stChunkData: body bytes still to skip
	count   int64 // body bytes seen for the current message (chunked, close-delimited)
	chunked bool  // current message: Transfer-Encoding ends in chunked
	teOther bool  // current message: Transfer-Encoding without chunked
	clen    int64 // current message: Content-Length; -1 = none

	// Pending header value, kept until the next line shows whether it is
	// folded (obs-fold continuation lines start with SP or HT).
	hid uint8
	val []byte
}

func (h *half) resetMsg() {
	h.hdrBytes = 0
	h.count = 0
	h.chunked = false
	h.teOther = false
	h.clen = -1
	h.hid = hNone
	h.val = h.val[:0]
}

// txn is one request and its event, allocated together when the request
// line is seen (there is then something to report).
type txn struct {
	ts      int64        // packet time of the request line
	h       *detect.HTTP // the event's http object (from the arena)
	head    bool         // HEAD: the response has no body
	connect bool         // CONNECT: a 2xx response turns the stream into a tunnel
	dropped bool         // placeholder for a request lost to a gap: its response is skipped silently
	// answered: the response ended before the request's headers did; the
	// event is emitted when they do.
	answered bool
	hostSeen bool   // a Host header was seen (even an empty one)
	uriHost  string // absolute-URI authority, used when there is no Host header
	uriPort  uint16
}

// finishHost falls back to the absolute URI's authority.
func (t *txn) finishHost() {
	if t.h.Hostname == "" && !t.hostSeen {
		t.h.Hostname, t.h.Port = t.uriHost, t.uriPort
	}
}

// Parser is an HTTP/1.x detect.StreamParser for one TCP flow. It is not
// safe for concurrent use; one per flow, owned by a shard.
type Parser struct {
	emit      detect.Emit
	arena     *detect.Arena
	freeTxns  []*txn       // transactions already reported, for reuse
	early     detect.Event // reused for the provisional event of each request
	wantEarly bool
	now       int64 // packet time of the data being parsed

	req, resp half

	cur *txn // request whose headers are being parsed

	// Requests waiting for a response, oldest first (a ring).
	q       [MaxPending]*txn
	qHead   int
	qLen    int
	orphans int // responses to skip: their requests were emitted on queue overflow

	// Response being parsed.
	rtx      *txn  // its request; nil when none (unsolicited response)
	respTS   int64 // packet time of its status line
	status   int
	ctype    string
	location string
	waitBody bool // the event is emitted when the body ends (chunked, close-delimited)

	sniffed  bool     // the client's first bytes were checked
	sniff    [20]byte // longer than the longest known method and a space
	sniffLen int
	// The server's first bytes, when they come before the client's.
	respSniff    [5]byte
	respSniffLen int
	respSniffed  bool
	txns         int
	done         bool
	upgraded     bool // a 101 or a CONNECT 2xx just ended the HTTP part: Data says Upgrade once
}

var _ detect.StreamParser = (*Parser)(nil)

// NewParser returns a parser that hands its events to emit.
func NewParser(emit detect.Emit) *Parser {
	p := &Parser{}
	p.Reset(emit)
	return p
}

// EmitEarly implements detect.EarlyEmitter.
func (p *Parser) EmitEarly(on bool) { p.wantEarly = on }

// Reset makes p ready for a new flow, keeping its buffers.
func (p *Parser) Reset(emit detect.Emit) {
	line0, val0 := p.req.line[:0], p.req.val[:0]
	line1, val1 := p.resp.line[:0], p.resp.val[:0]
	if cap(val0) == 0 { // one buffer for header values in each direction, not a growth series
		val0, val1 = make([]byte, 0, 256), make([]byte, 0, 256)
	}
	*p = Parser{emit: emit, arena: p.arena, freeTxns: p.freeTxns}
	p.req.line, p.req.val = line0, val0
	p.resp.line, p.resp.val = line1, val1
	p.req.resetMsg()
	p.resp.resetMsg()
}

// Data implements detect.StreamParser.
func (p *Parser) Data(dir int, data []byte, ts int64) detect.Verdict {
	p.now = ts
	if p.done {
		return detect.Done
	}
	if !p.sniffed {
		v, ok := p.sniffStart(dir, data)
		if !ok {
			return v
		}
	}
	for len(data) > 0 && !p.done {
		var n int
		if dir == detect.ToServer {
			n = p.reqStep(data, ts)
		} else {
			n = p.respStep(data, ts)
		}
		data = data[n:]
	}
	if p.upgraded {
		p.upgraded = false // report it once; later calls say Done
		return detect.Upgrade
	}
	if p.done {
		return detect.Done
	}
	return detect.NeedMore
}

// sniffStart checks the first bytes of the stream: the client's must be a
// known method and a space, and a server speaking first must start with
// "HTTP/". ok=false means: return v now.
func (p *Parser) sniffStart(dir int, data []byte) (detect.Verdict, bool) {
	if dir == detect.ToClient {
		// Only the client's bytes decide; a response seen first must at
		// least look like one.
		if !p.respSniffed {
			n := copy(p.respSniff[p.respSniffLen:], data)
			p.respSniffLen += n
			if !prefixOf(p.respSniff[:p.respSniffLen], "HTTP/") {
				return detect.NotMine, false
			}
			p.respSniffed = p.respSniffLen == len(p.respSniff)
		}
		return detect.NeedMore, true
	}
	n := copy(p.sniff[p.sniffLen:], data)
	p.sniffLen += n
	switch methodPrefix(p.sniff[:p.sniffLen]) {
	case prefixNo:
		return detect.NotMine, false
	case prefixFull:
		p.sniffed = true
	}
	return detect.NeedMore, true
}

// prefixOf reports whether b and s agree on their common length.
func prefixOf(b []byte, s string) bool {
	n := min(len(b), len(s))
	return string(b[:n]) == s[:n]
}

// Gap implements detect.StreamParser.
func (p *Parser) Gap(dir int, n int, ts int64) detect.Verdict {
	if p.done {
		return detect.Done
	}
	if n <= 0 {
		return detect.NeedMore
	}
	if !p.sniffed {
		// A stream picked up in the middle: we cannot tell what it is.
		return detect.NotMine
	}
	if dir == detect.ToServer {
		p.reqGap(int64(n))
	} else {
		p.respGap(int64(n))
	}
	if p.done {
		return detect.Done
	}
	return detect.NeedMore
}

// Close implements detect.StreamParser: a close-delimited response ends
// here, and every request still waiting is emitted without a response.
func (p *Parser) Close(ts int64) {
	if p.done {
		return
	}
	p.flush()
	p.done = true
}

// flush emits everything pending: the response whose body is being
// counted, the request whose headers are incomplete, queued requests.
func (p *Parser) flush() {
	if p.waitBody {
		p.finishBody()
	}
	if p.cur != nil {
		p.endHeaders(&p.req)
		t := p.cur
		p.cur = nil
		t.finishHost()
		p.send(t)
	}
	for p.qLen > 0 && !p.done {
		p.send(p.pop())
	}
}

// send emits t's event (unless it is a placeholder) and counts it.
func (p *Parser) send(t *txn) {
	if t == nil || t.dropped || p.done {
		return
	}
	e := p.arena.Event()
	e.Type, e.Timestamp, e.HTTP = detect.TypeHTTP, t.ts, t.h
	p.emit(e)
	p.release(t)
	p.txns++
	if p.txns >= MaxTransactions {
		p.done = true
	}
}

// newTxn returns a cleared transaction whose http object comes from the
// arena: the event owns it; the txn itself is parser bookkeeping, reused.
func (p *Parser) newTxn() *txn {
	var t *txn
	if n := len(p.freeTxns); n > 0 {
		t = p.freeTxns[n-1]
		p.freeTxns = p.freeTxns[:n-1]
		*t = txn{}
	} else {
		t = &txn{}
	}
	t.h = p.arena.HTTP()
	return t
}

func (p *Parser) release(t *txn) {
	if len(p.freeTxns) < MaxPending+2 {
		t.h = nil
		p.freeTxns = append(p.freeTxns, t)
	}
}

// UseArena implements detect.ArenaUser.
func (p *Parser) UseArena(a *detect.Arena) { p.arena = a }

// str copies b (at most limit bytes) to a string in the arena.
func (p *Parser) str(b []byte, limit int) string {
	if len(b) > limit {
		b = b[:limit]
	}
	return p.arena.String(b)
}

func (p *Parser) push(t *txn) {
	if p.qLen == MaxPending {
		// The oldest request waited too long: report it without a response
		// and skip the response that may still come for it.
		old := p.pop()
		if !old.dropped {
			p.orphans++
		}
		p.send(old)
	}
	p.q[(p.qHead+p.qLen)%MaxPending] = t
	p.qLen++
}

func (p *Parser) pop() *txn {
	t := p.q[p.qHead]
	p.q[p.qHead] = nil
	p.qHead = (p.qHead + 1) % MaxPending
	p.qLen--
	return t
}

// readLine returns the next complete line of data (without CR LF or LF)
// and how many bytes it consumed. When data holds no LF it keeps the bytes
// (up to MaxHeaderBytes, beyond that it only looks for the LF) and returns
// ok=false. The returned line is valid until the next call.
func (h *half) readLine(data []byte) (line []byte, n int, ok, over bool) {
	i := indexLF(data)
	if i < 0 {
		if !h.lineOver {
			if len(h.line)+len(data) > MaxHeaderBytes {
				h.lineOver = true
				h.line = h.line[:0]
			} else {
				h.line = append(h.line, data...)
			}
		}
		return nil, len(data), false, false
	}
	n = i + 1
	if h.lineOver {
		h.lineOver = false
		h.line = h.line[:0]
		return nil, n, true, true
	}
	if len(h.line) == 0 {
		line = data[:i]
	} else {
		if len(h.line)+i > MaxHeaderBytes {
			h.line = h.line[:0]
			return nil, n, true, true
		}
		h.line = append(h.line, data[:i]...)
		line = h.line
		h.line = h.line[:0] // the caller uses line before the next call
	}
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, n, true, false
}

func indexLF(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}

// bodyStep skips body bytes for the body states shared by both
// directions. It returns the bytes consumed and whether the body ended.
func (h *half) bodyStep(data []byte) (n int, end bool, bad bool) {
	switch h.state {
	case stBodyLen:
		k := int64(len(data))
		if k >= h.remain {
			n = int(h.remain)
			h.remain = 0
			return n, true, false
		}
		h.remain -= k
		return len(data), false, false
	case stChunkData:
		k := min(int64(len(data)), h.remain)
		h.remain -= k
		h.count += k
		if h.remain == 0 {
			h.state = stChunkEnd
		}
		return int(k), false, false
	case stChunkEnd:
		line, n, ok, over := h.readLine(data)
		if ok {
			if over || len(line) != 0 {
				return n, false, true
			}
			h.state = stChunkSize
		}
		return n, false, false
	case stChunkSize:
		line, n, ok, over := h.readLine(data)
		if !ok {
			return n, false, false
		}
		size, valid := parseChunkSize(line)
		if over || !valid {
			return n, false, true
		}
		if size == 0 {
			h.state = stTrailers
		} else {
			h.remain = size
			h.state = stChunkData
		}
		return n, false, false
	case stTrailers:
		line, n, ok, _ := h.readLine(data)
		if ok && len(line) == 0 {
			return n, true, false
		}
		return n, false, false
	case stUntilClose:
		h.count += int64(len(data))
		return len(data), false, false
	}
	return len(data), false, true
}

// parseChunkSize parses "1a3f[;ext…]" (RFC 9112 §7.1), tolerating spaces
// before the extension.
func parseChunkSize(line []byte) (int64, bool) {
	var size int64
	digits := 0
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			goto rest
		}
		if digits >= 15 { // > 2^60: nonsense
			return 0, false
		}
		size = size<<4 | int64(d)
		digits++
	}
rest:
	if digits == 0 {
		return 0, false
	}
	for ; i < len(line); i++ {
		switch line[i] {
		case ' ', '\t':
		case ';':
			return size, true
		default:
			return 0, false
		}
	}
	return size, true
}

// startBody sets the body state of a message whose headers just ended.
// noBody: the message has none whatever its headers say.
func (h *half) startBody(noBody, untilClose bool) (waiting bool) {
	switch {
	case noBody:
		h.state = stStart
	case h.chunked:
		h.state = stChunkSize
		return true
	case h.teOther && untilClose:
		h.state = stUntilClose
		return true
	case h.clen > 0:
		h.state = stBodyLen
		h.remain = h.clen
	case h.clen == 0:
		h.state = stStart
	case untilClose:
		h.state = stUntilClose
		return true
	default:
		h.state = stStart
	}
	return false
}

// header handling shared by both directions: a header line either
// continues the pending one (obs-fold) or replaces it. apply stores a
// finished header.
func (p *Parser) headerLine(h *half, line []byte) {
	if line[0] == ' ' || line[0] == '\t' {
		if h.hid != hNone {
			v := trimSpace(line)
			if len(v) > 0 && len(h.val)+1+len(v) <= MaxHeaderBytes {
				if len(h.val) > 0 {
					h.val = append(h.val, ' ')
				}
				h.val = append(h.val, v...)
			}
		}
		return
	}
	if h.hid != hNone {
		p.apply(h, h.hid, h.val)
	}
	h.hid = hNone
	h.val = h.val[:0]
	colon := -1
	for i, c := range line {
		if c == ':' {
			colon = i
			break
		}
	}
	if colon <= 0 {
		return // not a header: ignored (lenient, as browsers and servers are)
	}
	id := headerID(trimSpace(line[:colon]))
	if id == hNone {
		return
	}
	h.hid = id
	h.val = append(h.val, trimSpace(line[colon+1:])...)
}

// endHeaders applies the last pending header.
func (p *Parser) endHeaders(h *half) {
	if h.hid != hNone {
		p.apply(h, h.hid, h.val)
	}
	h.hid = hNone
	h.val = h.val[:0]
}

func headerID(name []byte) uint8 {
	switch len(name) {
	case 3:
		if equalFold(name, "xff") {
			return hXFF
		}
	case 4:
		if equalFold(name, "host") {
			return hHost
		}
	case 7:
		if equalFold(name, "referer") {
			return hReferer
		}
	case 8:
		if equalFold(name, "location") {
			return hLocation
		}
	case 10:
		if equalFold(name, "user-agent") {
			return hUA
		}
	case 12:
		if equalFold(name, "content-type") {
			return hContentType
		}
	case 14:
		if equalFold(name, "content-length") {
			return hContentLength
		}
	case 15:
		if equalFold(name, "x-forwarded-for") {
			return hXFF
		}
	case 17:
		if equalFold(name, "transfer-encoding") {
			return hTransferEncoding
		}
	}
	return hNone
}

// equalFold compares b with the lower-case ASCII s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// parseContentLength parses a Content-Length value; a list of identical
// values ("5, 5") is accepted (RFC 9110 §8.6). -1 = invalid.
func parseContentLength(v []byte) int64 {
	var n int64 = -1
	for len(v) > 0 {
		i := 0
		var x int64
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			if x > (1<<62)/10 {
				return -1
			}
			x = x*10 + int64(v[i]-'0')
			i++
		}
		if i == 0 || (n >= 0 && x != n) {
			return -1
		}
		n = x
		v = trimSpace(v[i:])
		if len(v) > 0 {
			if v[0] != ',' {
				return -1
			}
			v = trimSpace(v[1:])
		}
	}
	return n
}

// lastCodingChunked reports whether the last transfer coding is chunked.
func lastCodingChunked(v []byte) bool {
	end := len(v)
	for i := len(v) - 1; i >= 0; i-- {
		if v[i] == ',' {
			return equalFold(trimSpace(cutParams(v[i+1:end])), "chunked")
		}
	}
	return equalFold(trimSpace(cutParams(v[:end])), "chunked")
}

func cutParams(v []byte) []byte {
	for i, c := range v {
		if c == ';' {
			return v[:i]
		}
	}
	return v
}

// str copies b into a string of at most limit bytes.
