package http

import (
	"github.com/nunchi-sensor/nunchi/detect"
)

// clenInvalid marks a Content-Length that could not be parsed.
const clenInvalid = -2

// reqStep consumes client bytes according to the request side's state and
// returns how many it used (at least one).
func (p *Parser) reqStep(data []byte, ts int64) int {
	h := &p.req
	switch h.state {
	case stStart, stResync:
		line, n, ok, over := h.readLine(data)
		if !ok || over || len(line) == 0 {
			return n
		}
		method, target, proto, valid := parseRequestLine(line)
		if !valid {
			h.state = stResync
			return n
		}
		p.beginRequest(method, target, proto, ts)
		h.resetMsg()
		h.hdrBytes = n
		h.state = stHeaders
		return n
	case stHeaders:
		return p.headerStep(h, data, true)
	}
	n, end, bad := h.bodyStep(data)
	if bad {
		h.state = stResync
	} else if end {
		h.state = stStart
	}
	return n
}

// beginRequest starts the transaction of a request line.
func (p *Parser) beginRequest(method, target, proto []byte, ts int64) {
	if p.cur != nil { // not expected: endRequest clears it
		p.send(p.cur)
	}
	t := p.newTxn()
	t.ts = ts
	t.h.Method = methodString(method)
	t.h.Protocol = protoString(proto)
	t.h.URL = p.str(target, maxURL)
	t.h.Length = -1
	switch {
	case t.h.Method == "CONNECT":
		t.connect = true
		t.h.Proxied = true
		t.h.Hostname, t.h.Port = splitHost(target, p.arena)
	case t.h.Method == "HEAD":
		t.head = true
	}
	if !t.connect && len(target) > 0 && target[0] != '/' && target[0] != '*' {
		if auth, ok := absoluteAuthority(target); ok {
			t.h.Proxied = true
			t.uriHost, t.uriPort = splitHost(auth, p.arena)
		}
	}
	p.cur = t
}

// endRequest ends the request's header block (overflow: it went past
// MaxHeaderBytes or a line past its bound; the rest of it is skipped).
func (p *Parser) endRequest(overflow bool) {
	h := &p.req
	p.endHeaders(h)
	t := p.cur
	p.cur = nil
	t.finishHost()
	if t.answered {
		// The server answered before the request was complete.
		p.send(t)
	} else {
		// The host is known now, the response is not: tell the shard at
		// once (rules, injection), the full event follows the response.
		if p.emit != nil && p.wantEarly && !p.done {
			p.early = detect.Event{Type: detect.TypeHTTP, Timestamp: p.now, HTTP: t.h, Early: true}
			p.emit(&p.early)
			p.early.HTTP = nil
		}
		p.push(t)
	}
	switch {
	case overflow, t.connect:
		// After CONNECT the client's bytes are tunnel data, or a new
		// CONNECT after a refusal: only a request line is looked for.
		h.state = stResync
		h.line = h.line[:0]
		h.lineOver = false
	case h.chunked:
		h.state = stChunkSize
	case h.teOther || h.clen == clenInvalid:
		h.state = stResync // framing unknown (RFC 9112 §6.3: a 400)
	case h.clen > 0:
		h.state = stBodyLen
		h.remain = h.clen
	default:
		h.state = stStart
	}
}

// skipBody accounts n lost bytes that fall inside the body being skipped;
// it reports false when the gap runs past it (framing is lost).
func (h *half) skipBody(n int64) bool {
	switch h.state {
	case stBodyLen:
		if n < h.remain {
			h.remain -= n
			return true
		}
		if n == h.remain {
			h.remain = 0
			h.state = stStart
			return true
		}
	case stChunkData:
		if n <= h.remain {
			h.remain -= n
			h.count += n
			if h.remain == 0 {
				h.state = stChunkEnd
			}
			return true
		}
	}
	return false
}

// reqGap handles n lost client bytes.
func (p *Parser) reqGap(n int64) {
	h := &p.req
	if h.skipBody(n) {
		return
	}
	switch h.state {
	case stHeaders:
		// The request is dropped; a placeholder keeps its response from
		// being paired with the next request.
		t := p.cur
		p.cur = nil
		if t.answered {
			t.finishHost()
			p.send(t) // its response was seen: report what there is
			break
		}
		t.dropped = true
		p.push(t)
	}
	h.state = stResync
	h.line = h.line[:0]
	h.lineOver = false
}

// headerStep consumes one header line of the request (req) or response
// being parsed, ending the header block at the blank line or when it grows
// past MaxHeaderBytes.
func (p *Parser) headerStep(h *half, data []byte, req bool) int {
	line, n, ok, over := h.readLine(data)
	h.hdrBytes += n
	switch {
	case over || h.hdrBytes > MaxHeaderBytes:
		p.endMessage(req, true)
	case !ok:
	case len(line) == 0:
		p.endMessage(req, false)
	default:
		p.headerLine(h, line)
	}
	return n
}

func (p *Parser) endMessage(req, overflow bool) {
	if req {
		p.endRequest(overflow)
	} else {
		p.endResponse(overflow)
	}
}

// respStep consumes server bytes.
func (p *Parser) respStep(data []byte, ts int64) int {
	h := &p.resp
	switch h.state {
	case stStart, stResync:
		line, n, ok, over := h.readLine(data)
		if !ok || over || len(line) == 0 {
			return n
		}
		status, valid := parseStatusLine(line)
		if !valid {
			h.state = stResync
			return n
		}
		h.resetMsg()
		h.hdrBytes = n
		h.state = stHeaders
		p.status, p.respTS = status, ts
		p.ctype, p.location = "", ""
		return n
	case stHeaders:
		return p.headerStep(h, data, false)
	}
	n, end, bad := h.bodyStep(data)
	if bad {
		// Broken chunk framing: report what was counted, look for the
		// next status line.
		if p.waitBody {
			p.finishBody()
		}
		h.state = stResync
	} else if end {
		if p.waitBody {
			p.finishBody()
		}
		h.state = stStart
	}
	return n
}

// takeRequest returns the request a response answers: nil when the
// response is unsolicited or its request was already reported.
func (p *Parser) takeRequest() *txn {
	if p.orphans > 0 {
		p.orphans--
		return nil
	}
	if p.qLen > 0 {
		t := p.pop()
		if t.dropped {
			return nil
		}
		return t
	}
	if p.cur != nil && !p.cur.answered {
		return p.cur // the server answers before the request is complete
	}
	// No request at all: the capture began after it was sent (a flow
	// picked up mid-stream), or it was lost. The response is still a
	// transaction of the flow's history: it is reported with an empty
	// request side (no method, URL or host), as Zeek reports it.
	t := p.newTxn()
	t.ts = p.respTS
	t.h.Length = -1
	return t
}

// complete emits t, or, when its request headers are still being parsed,
// marks it for emission when they end.
func (p *Parser) complete(t *txn) {
	if t == nil {
		return
	}
	if t == p.cur {
		t.answered = true
		return
	}
	p.send(t)
}

// endResponse ends the response's header block.
func (p *Parser) endResponse(overflow bool) {
	h := &p.resp
	p.endHeaders(h)
	status := p.status
	if status >= 100 && status < 200 && status != 101 && !overflow {
		h.state = stStart // interim response: the final one follows
		return
	}
	t := p.takeRequest()
	if t != nil {
		t.h.Status = status
		if p.ctype != "" {
			t.h.ContentType = p.ctype
		}
		t.h.Redirect = p.location
	}
	if overflow {
		h.state = stResync
		h.line = h.line[:0]
		h.lineOver = false
		p.complete(t)
		return
	}
	if status == 101 || (t != nil && t.connect && status >= 200 && status < 300) {
		// Switching protocols or a CONNECT tunnel: nothing more to parse.
		if t != nil {
			t.h.Length = 0
		}
		p.complete(t)
		p.flush()
		p.done, p.upgraded = true, true
		return
	}
	noBody := status == 204 || status == 304 || (t != nil && t.head)
	switch {
	case noBody:
		h.state = stStart
		if t != nil {
			t.h.Length = 0
		}
	case h.chunked:
		h.state = stChunkSize
		p.waitBody, p.rtx = true, t
		return
	case h.clen >= 0 && !h.teOther:
		if t != nil {
			t.h.Length = h.clen
		}
		if h.clen > 0 {
			h.state = stBodyLen
			h.remain = h.clen
		} else {
			h.state = stStart
		}
	default:
		h.state = stUntilClose
		p.waitBody, p.rtx = true, t
		return
	}
	p.complete(t)
}

// finishBody emits the response whose body length was being counted.
func (p *Parser) finishBody() {
	t := p.rtx
	p.waitBody, p.rtx = false, nil
	if t != nil {
		t.h.Length = p.resp.count
	}
	p.complete(t)
}

// respGap handles n lost server bytes.
func (p *Parser) respGap(n int64) {
	h := &p.resp
	if h.skipBody(n) {
		return
	}
	switch h.state {
	case stChunkData:
		h.count += h.remain
	case stUntilClose:
		h.count += n
		return
	case stHeaders:
		// The response is dropped; its request is reported without one.
		p.complete(p.takeRequest())
	}
	if p.waitBody {
		p.finishBody()
	}
	h.state = stResync
	h.line = h.line[:0]
	h.lineOver = false
}

// apply stores a finished header of the message h is parsing.
func (p *Parser) apply(h *half, id uint8, v []byte) {
	switch id {
	case hContentLength:
		if h.clen == -1 || h.clen == clenInvalid {
			h.clen = parseContentLength(v)
			if h.clen < 0 {
				h.clen = clenInvalid
			}
		} else if parseContentLength(v) != h.clen {
			h.clen = clenInvalid // conflicting lengths
		}
		return
	case hTransferEncoding:
		if lastCodingChunked(v) {
			h.chunked, h.teOther = true, false
		} else {
			h.chunked, h.teOther = false, true
		}
		return
	}
	if h == &p.resp {
		switch id {
		case hContentType:
			p.ctype = p.str(v, maxField)
		case hLocation:
			p.location = p.str(v, maxURL)
		}
		return
	}
	t := p.cur
	if t == nil {
		return
	}
	switch id {
	case hHost:
		if !t.hostSeen && !t.connect {
			t.hostSeen = true
			t.h.Hostname, t.h.Port = splitHost(v, p.arena)
		}
	case hUA:
		if t.h.UserAgent == "" {
			t.h.UserAgent = p.str(v, maxUA)
		}
	case hReferer:
		if t.h.Referer == "" {
			t.h.Referer = p.str(v, maxURL)
		}
	case hXFF:
		if t.h.XFF == "" {
			t.h.XFF = p.str(v, maxField)
		}
	case hContentType:
		if t.h.ContentType == "" {
			t.h.ContentType = p.str(v, maxField)
		}
	}
}

// parseRequestLine splits "METHOD SP target SP HTTP/x.y".
func parseRequestLine(line []byte) (method, target, proto []byte, ok bool) {
	sp1 := -1
	for i, c := range line {
		if c == ' ' {
			sp1 = i
			break
		}
		if !isTChar(c) || i >= 32 {
			return nil, nil, nil, false
		}
	}
	if sp1 <= 0 {
		return nil, nil, nil, false
	}
	sp2 := -1
	for i := len(line) - 1; i > sp1; i-- {
		if line[i] == ' ' {
			sp2 = i
			break
		}
	}
	if sp2 < 0 {
		return nil, nil, nil, false
	}
	proto = line[sp2+1:]
	if !validVersion(proto) {
		return nil, nil, nil, false
	}
	target = trimSpace(line[sp1+1 : sp2])
	if len(target) == 0 {
		return nil, nil, nil, false
	}
	return line[:sp1], target, proto, true
}

// validVersion reports whether b is "HTTP/d.d".
func validVersion(b []byte) bool {
	return len(b) == 8 && string(b[:5]) == "HTTP/" && isDigit(b[5]) && b[6] == '.' && isDigit(b[7])
}

// parseStatusLine parses "HTTP/x.y SP 3DIGIT [SP reason]".
func parseStatusLine(line []byte) (int, bool) {
	if len(line) < 12 || !validVersion(line[:8]) || line[8] != ' ' {
		return 0, false
	}
	d := line[9:12]
	if !isDigit(d[0]) || !isDigit(d[1]) || !isDigit(d[2]) || d[0] == '0' {
		return 0, false
	}
	if len(line) > 12 && line[12] != ' ' && line[12] != '\t' {
		return 0, false
	}
	return int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0'), true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isTChar reports whether c may appear in a token (RFC 9110 §5.6.2).
func isTChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', isDigit(c):
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// absoluteAuthority returns the authority of an absolute URI
// ("scheme://[userinfo@]host[:port]/…").
func absoluteAuthority(target []byte) ([]byte, bool) {
	i := 0
	for i < len(target) && (isAlpha(target[i]) || (i > 0 && (isDigit(target[i]) || target[i] == '+' || target[i] == '-' || target[i] == '.'))) {
		i++
	}
	if i == 0 || len(target) < i+3 || string(target[i:i+3]) != "://" {
		return nil, false
	}
	rest := target[i+3:]
	end := len(rest)
	for j, c := range rest {
		if c == '/' || c == '?' || c == '#' {
			end = j
			break
		}
	}
	auth := rest[:end]
	for j := len(auth) - 1; j >= 0; j-- {
		if auth[j] == '@' {
			auth = auth[j+1:]
			break
		}
	}
	return auth, true
}

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// splitHost splits "host[:port]", "[v6][:port]" (brackets removed) and a
// bare IPv6 address; the host is lower-cased and a trailing dot dropped.
// An invalid port leaves Port 0.
func splitHost(v []byte, a *detect.Arena) (string, uint16) {
	v = trimSpace(v)
	var host, port []byte
	if len(v) > 0 && v[0] == '[' {
		end := -1
		for i, c := range v {
			if c == ']' {
				end = i
				break
			}
		}
		if end < 0 {
			host = v[1:]
		} else {
			host = v[1:end]
			if rest := v[end+1:]; len(rest) > 1 && rest[0] == ':' {
				port = rest[1:]
			}
		}
	} else {
		colons, last := 0, -1
		for i, c := range v {
			if c == ':' {
				colons++
				last = i
			}
		}
		if colons == 1 {
			host, port = v[:last], v[last+1:]
		} else {
			host = v
		}
	}
	if len(host) > 0 && host[len(host)-1] == '.' {
		host = host[:len(host)-1]
	}
	return lowerString(host, maxField, a), parsePort(port)
}

func parsePort(b []byte) uint16 {
	if len(b) == 0 || len(b) > 5 {
		return 0
	}
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0
	}
	return uint16(n)
}

// lowerString returns b lower-cased (ASCII) as a string of at most limit bytes.
func lowerString(b []byte, limit int, a *detect.Arena) string {
	if len(b) > limit {
		b = b[:limit]
	}
	upper := false
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			upper = true
			break
		}
	}
	if !upper {
		return a.String(b)
	}
	var buf [256]byte
	out := buf[:0]
	if len(b) > len(buf) {
		out = make([]byte, 0, len(b))
	}
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out = append(out, c)
	}
	return a.String(out)
}

// methodString returns the method, without allocating for common ones.
func methodString(b []byte) string {
	switch string(b) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "HEAD":
		return "HEAD"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "OPTIONS":
		return "OPTIONS"
	case "CONNECT":
		return "CONNECT"
	case "PATCH":
		return "PATCH"
	}
	return string(b)
}

func protoString(b []byte) string {
	switch string(b) {
	case "HTTP/1.1":
		return "HTTP/1.1"
	case "HTTP/1.0":
		return "HTTP/1.0"
	}
	return string(b)
}

// methods are the request methods Detect and the first bytes of a stream
// accept (RFC 9110, WebDAV RFC 4918/3253, and common extensions).
var methods = [...]string{
	"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH",
	"REPORT", "MKACTIVITY", "CHECKOUT", "MERGE", "MKCALENDAR", "ACL", "PURGE",
	"LINK", "UNLINK", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "BIND", "REBIND", "UNBIND",
	"VERSION-CONTROL", "CHECKIN", "UNCHECKOUT", "MKWORKSPACE", "UPDATE", "LABEL",
	"BASELINE-CONTROL", "ORDERPATCH",
}

const (
	prefixNo      = iota // b cannot start a known method followed by a space
	prefixPartial        // b is a proper prefix of "METHOD "
	prefixFull           // b starts with "METHOD "
)

// methodPrefix classifies the first bytes of a client stream.
func methodPrefix(b []byte) int {
	res := prefixNo
	for _, m := range methods {
		if len(b) > len(m) {
			if string(b[:len(m)]) == m && b[len(m)] == ' ' {
				return prefixFull
			}
			continue
		}
		if string(b) == m[:len(b)] {
			res = prefixPartial
		}
	}
	return res
}

// DetectResponse reports whether b, the first bytes a server sent in a
// flow whose client has said nothing yet, start an HTTP/1.x status line
// ("HTTP/1.1 200"): a flow picked up mid-stream at a response.
func DetectResponse(b []byte) bool {
	if len(b) < 12 {
		return false
	}
	_, ok := parseStatusLine(b[:12]) // version, space, status: what follows is the reason
	return ok
}

// Detect reports whether b, the first bytes a client sent (dir ==
// detect.ToServer), start with a known HTTP method and a space. Fewer bytes
// than "METHOD " give false: call again with more.
func Detect(dir int, b []byte) bool {
	return dir == detect.ToServer && methodPrefix(b) == prefixFull
}
