package tls

import (
	"crypto/md5"
	"encoding/hex"

	"github.com/nunchi-sensor/nunchi/detect"
)

// DefaultBudget is the number of bytes a Parser inspects per direction
// before it gives up, emits what it has and returns Done. 64 KiB holds the
// largest ClientHellos seen in practice (post-quantum key shares, padding)
// and a server's first flight up to its leaf certificate.
const DefaultBudget = 64 << 10

// Record layer limits (RFC 8446 §5.1, §5.2: TLSCiphertext may exceed
// 2^14 by 256 bytes; RFC 5246 allowed 2048 for compression and MAC).
const (
	recordHeaderLen = 5
	maxRecordLen    = 1<<14 + 2048
)

// TLS record content types.
const (
	ctChangeCipherSpec = 20
	ctAlert            = 21
	ctHandshake        = 22
	ctApplicationData  = 23
	ctHeartbeat        = 24
)

// Handshake message types.
const (
	hsClientHello = 1
	hsServerHello = 2
	hsCertificate = 11
)

// Detect reports whether b, the first bytes a client sent, look like the
// start of a TLS handshake record carrying a ClientHello: content type 22,
// record version 3.x (x ≤ 4), a plausible length, and (when b has a sixth
// byte) handshake type 1. It needs at least 5 bytes.
func Detect(b []byte) bool {
	if len(b) < recordHeaderLen {
		return false
	}
	if b[0] != ctHandshake || b[1] != 3 || b[2] > 4 {
		return false
	}
	n := int(b[3])<<8 | int(b[4])
	if n < 1 || n > maxRecordLen {
		return false
	}
	return len(b) == recordHeaderLen || b[5] == hsClientHello
}

// dirState is the record and handshake reassembly state of one direction.
type dirState struct {
	hdr       [recordHeaderLen]byte
	hdrN      int  // bytes of hdr filled; valid iff remain == 0
	ctype     byte // content type of the current record; valid iff remain > 0
	remain    int  // payload bytes of the current record still to come
	records   int  // record headers completed
	seen      int  // bytes inspected (the budget counter)
	hs        []byte
	encrypted bool // a ChangeCipherSpec went by: later handshake records are opaque
	skip      bool // this direction has given what it can: bytes are counted, not parsed
}

// maxKeptBuffer bounds the handshake buffer a Reset keeps for reuse: a
// pooled Parser should not pin a budget-sized buffer from one odd flow.
const maxKeptBuffer = 8 << 10

func (d *dirState) reset() {
	hs := d.hs[:0]
	if cap(hs) > maxKeptBuffer {
		hs = nil
	}
	*d = dirState{hs: hs}
}

// state of a Parser.
const (
	stRunning = iota
	stDone    // event emitted (or nothing to emit): Done from now on
	stNotMine // not TLS: NotMine from now on
)

// Parser is a detect.StreamParser for TLS over TCP. It reassembles records
// and handshake messages, parses the ClientHello, ServerHello and (TLS ≤
// 1.2) the server's leaf certificate, and emits one tls event per
// connection. See the package documentation for when it emits.
//
// Not safe for concurrent use; one per flow, reusable through Reset.
type Parser struct {
	emit      detect.Emit
	arena     *detect.Arena
	early     detect.Event // reused for the provisional event of the ClientHello
	wantEarly bool
	earlyT    detect.TLS
	budget    int
	state     int
	dir       [2]dirState

	ch       ClientHello
	sh       ServerHello
	cert     Certificate
	haveCH   bool
	haveSH   bool // a ServerHello (possibly only a HelloRetryRequest) was parsed
	haveCert bool
	// serverDone: the server side has given all a passive observer can
	// read (TLS 1.3 ServerHello; ≤ 1.2 leaf certificate, or a message or
	// record showing no certificate follows).
	serverDone bool
}

var _ detect.StreamParser = (*Parser)(nil)

// NewParser returns a Parser that hands its event to emit.
func NewParser(emit detect.Emit) *Parser {
	p := &Parser{}
	p.Reset(emit)
	return p
}

// EmitEarly implements detect.EarlyEmitter.
func (p *Parser) EmitEarly(on bool) { p.wantEarly = on }

// UseArena implements detect.ArenaUser.
func (p *Parser) UseArena(a *detect.Arena) {
	p.arena = a
	p.ch.SetArena(a)
}

// Reset readies p for a new connection, keeping its buffers.
func (p *Parser) Reset(emit detect.Emit) {
	p.emit = emit
	p.wantEarly = false
	p.budget = DefaultBudget
	p.state = stRunning
	p.dir[0].reset()
	p.dir[1].reset()
	p.haveCH, p.haveSH, p.haveCert, p.serverDone = false, false, false, false
	p.cert = Certificate{}
}

// SetBudget changes the per-direction byte budget (before the first Data
// call). n ≤ 0 means DefaultBudget.
func (p *Parser) SetBudget(n int) {
	if n <= 0 {
		n = DefaultBudget
	}
	p.budget = n
}

func (p *Parser) verdict() detect.Verdict {
	switch p.state {
	case stDone:
		return detect.Done
	case stNotMine:
		return detect.NotMine
	}
	return detect.NeedMore
}

// started reports whether any byte was accepted as TLS.
func (p *Parser) started() bool {
	return p.dir[0].seen > 0 || p.dir[1].seen > 0
}

// finish emits what was learned (if anything) and ends the parser.
func (p *Parser) finish(ts int64) detect.Verdict {
	if p.state != stRunning {
		return p.verdict()
	}
	p.state = stDone
	if p.haveCH || p.haveSH {
		p.emitEvent(ts)
	}
	return detect.Done
}

// invalid handles bytes that break the protocol: before any hello was
// understood the stream is not TLS; after, the event is emitted with what
// is known.
func (p *Parser) invalid(ts int64) detect.Verdict {
	if !p.haveCH && !p.haveSH {
		p.state = stNotMine
		return detect.NotMine
	}
	return p.finish(ts)
}

// Data implements detect.StreamParser.
func (p *Parser) Data(dir int, data []byte, ts int64) detect.Verdict {
	if p.state != stRunning {
		return p.verdict()
	}
	if dir != detect.ToServer && dir != detect.ToClient {
		return detect.NeedMore
	}
	d := &p.dir[dir]
	if d.skip {
		d.seen += len(data)
		if d.seen > p.budget {
			return p.finish(ts)
		}
		return detect.NeedMore
	}
	for len(data) > 0 {
		if d.seen >= p.budget {
			return p.finish(ts)
		}
		if d.remain == 0 {
			// Record header, validated byte by byte so that a non-TLS
			// stream is refused from its first bytes.
			b := data[0]
			if !p.headerByte(dir, d, b) {
				return p.invalid(ts)
			}
			d.hdr[d.hdrN] = b
			d.hdrN++
			d.seen++
			data = data[1:]
			if d.hdrN < recordHeaderLen {
				continue
			}
			d.hdrN = 0
			d.records++
			d.ctype = d.hdr[0]
			d.remain = int(d.hdr[3])<<8 | int(d.hdr[4])
			if v := p.recordStart(dir, d, ts); v != detect.NeedMore {
				return v
			}
			if d.skip {
				return p.Data(dir, data, ts) // count the rest
			}
			continue
		}
		n := min(d.remain, len(data), p.budget-d.seen)
		chunk := data[:n]
		data = data[n:]
		d.remain -= n
		d.seen += n
		if d.ctype == ctHandshake && !d.encrypted {
			if v := p.handshake(dir, d, chunk, ts); v != detect.NeedMore {
				return v
			}
			if d.skip {
				return p.Data(dir, data, ts)
			}
		}
	}
	return detect.NeedMore
}

// headerByte checks byte d.hdrN of a record header.
func (p *Parser) headerByte(dir int, d *dirState, b byte) bool {
	switch d.hdrN {
	case 0:
		if d.records == 0 {
			// A client starts with a handshake record; a server with a
			// handshake record or an alert.
			return b == ctHandshake || dir == detect.ToClient && b == ctAlert
		}
		return b >= ctChangeCipherSpec && b <= ctHeartbeat
	case 1:
		return b == 3
	case 2:
		return b <= 4
	case 3:
		return int(b)<<8 <= maxRecordLen
	case 4:
		n := int(d.hdr[3])<<8 | int(b)
		if n > maxRecordLen {
			return false
		}
		// Empty records are legal only for application data.
		return n > 0 || d.hdr[0] == ctApplicationData
	}
	return false
}

// recordStart acts on a completed record header.
func (p *Parser) recordStart(dir int, d *dirState, ts int64) detect.Verdict {
	switch d.ctype {
	case ctHandshake:
		return detect.NeedMore
	case ctChangeCipherSpec:
		// Later handshake records of this direction are encrypted.
		d.encrypted = true
	}
	if dir == detect.ToServer {
		if !p.haveCH {
			return p.invalid(ts) // a client's first record must carry the ClientHello
		}
		d.skip = true
		return detect.NeedMore
	}
	// Server: an alert, a ChangeCipherSpec (resumption) or data means no
	// further clear-text handshake, hence no certificate. Exception: the
	// middlebox-compatibility ChangeCipherSpec after a HelloRetryRequest
	// (RFC 8446 §D.4) precedes the real, clear-text ServerHello.
	if d.ctype == ctChangeCipherSpec && p.haveSH && p.sh.HelloRetry {
		d.encrypted = false
		return detect.NeedMore
	}
	if !p.haveSH && d.ctype != ctAlert {
		return p.invalid(ts)
	}
	if d.ctype == ctAlert && !p.haveCH && !p.haveSH {
		// A lone alert proves TLS but says nothing: end quietly.
		p.state = stDone
		return detect.Done
	}
	return p.serverFinished(d, ts)
}

// serverFinished marks the server side complete and emits when the
// ClientHello is known (otherwise the event waits for it, or for Close).
func (p *Parser) serverFinished(d *dirState, ts int64) detect.Verdict {
	p.serverDone = true
	d.skip = true
	d.hs = d.hs[:0]
	if p.haveCH {
		return p.finish(ts)
	}
	return detect.NeedMore
}

// handshake appends record payload to the handshake stream of a direction
// and processes every complete message. Messages are parsed in place from
// chunk when nothing is buffered; only an incomplete tail is copied.
func (p *Parser) handshake(dir int, d *dirState, chunk []byte, ts int64) detect.Verdict {
	buf := chunk
	buffered := len(d.hs) > 0
	if buffered {
		d.hs = append(d.hs, chunk...)
		buf = d.hs
	}
	v := detect.NeedMore
	for p.state == stRunning && !d.skip {
		if len(buf) >= 1 && dir == detect.ToServer && !p.haveCH && buf[0] != hsClientHello {
			v = p.invalid(ts)
			break
		}
		if len(buf) < 4 {
			break
		}
		typ := buf[0]
		n := int(buf[1])<<16 | int(buf[2])<<8 | int(buf[3])
		if typ == hsClientHello && !p.haveCH && (n < 38 || n > p.budget) {
			v = p.invalid(ts)
			break
		}
		if typ == hsCertificate && dir == detect.ToClient && p.haveSH && !p.haveCert {
			// The leaf certificate is all that is wanted: take it as soon
			// as its bytes are in, without waiting for the whole chain.
			der, ok, err := firstCertificate(buf[4:min(len(buf), 4+n)])
			if err != nil {
				v = p.serverFinished(d, ts)
				break
			}
			if ok {
				p.cert, _ = ParseCertificate(der)
				p.haveCert = true
				v = p.serverFinished(d, ts)
				break
			}
		}
		if len(buf) < 4+n {
			break
		}
		msg := buf[4 : 4+n]
		buf = buf[4+n:]
		if v = p.message(dir, d, typ, msg, ts); v != detect.NeedMore {
			break
		}
	}
	if p.state != stRunning || d.skip {
		d.hs = d.hs[:0]
		return v
	}
	// Keep the incomplete tail.
	if buffered {
		d.hs = d.hs[:copy(d.hs, buf)]
	} else {
		d.hs = append(d.hs[:0], buf...)
	}
	return v
}

// message acts on one complete handshake message.
func (p *Parser) message(dir int, d *dirState, typ byte, body []byte, ts int64) detect.Verdict {
	if dir == detect.ToServer {
		// Only the first ClientHello counts (see the package doc on
		// duplicates); the client direction has nothing more to give.
		if err := p.ch.Parse(body); err != nil {
			return p.invalid(ts)
		}
		p.haveCH = true
		d.skip = true
		d.hs = d.hs[:0]
		if p.emit != nil && p.wantEarly && !p.serverDone {
			// The name is known, the server's answer is not: tell the
			// shard now (rules, injection); the full event follows.
			p.earlyT = detect.TLS{SNI: p.ch.SNI}
			p.early = detect.Event{Type: detect.TypeTLS, Timestamp: ts, TLS: &p.earlyT, Early: true}
			p.emit(&p.early)
		}
		if p.serverDone {
			return p.finish(ts)
		}
		return detect.NeedMore
	}
	switch {
	case typ == hsServerHello && (!p.haveSH || p.sh.HelloRetry):
		if err := p.sh.Parse(body); err != nil {
			return p.invalid(ts)
		}
		p.haveSH = true
		if p.sh.HelloRetry {
			// The client answers with a second ClientHello (ignored) and
			// the server with the real ServerHello.
			return detect.NeedMore
		}
		if v := p.sh.Version(); v >= 0x0304 && v != 0xfeff && v != 0xfefd && v != 0xfefc {
			// TLS 1.3 (and drafts, 0x7fxx): everything after the
			// ServerHello is encrypted.
			return p.serverFinished(d, ts)
		}
		return detect.NeedMore
	case !p.haveSH:
		if typ == 0 { // HelloRequest: ignorable
			return detect.NeedMore
		}
		return p.invalid(ts)
	case typ == hsServerHello:
		return detect.NeedMore // a second real ServerHello: ignored
	default:
		// A message other than Certificate after the ServerHello (a
		// Certificate is taken before it completes): no certificate.
		return p.serverFinished(d, ts)
	}
}

// Gap implements detect.StreamParser. Records cannot be resynchronised
// after lost bytes, so a gap in a direction still being parsed ends the
// parser (emitting what is known); a gap in a direction that has already
// given what it can is ignored.
func (p *Parser) Gap(dir int, n int, ts int64) detect.Verdict {
	if p.state != stRunning {
		return p.verdict()
	}
	if dir == detect.ToServer || dir == detect.ToClient {
		if p.dir[dir].skip {
			return detect.NeedMore
		}
	}
	if !p.started() {
		p.state = stNotMine
		return detect.NotMine
	}
	return p.finish(ts)
}

// Close implements detect.StreamParser: a connection that ends before the
// server side completed still reports its ClientHello.
func (p *Parser) Close(ts int64) {
	if p.state == stRunning {
		p.finish(ts)
	}
}

func withoutGREASE(vs []uint16, a *detect.Arena) []uint16 {
	n := 0
	for _, v := range vs {
		if !IsGREASE(v) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := a.Uint16s(n)
	for _, v := range vs {
		if !IsGREASE(v) {
			out = append(out, v)
		}
	}
	return out
}

// ja3Of fills a JA3 object from its string, built in b: the string and
// the MD5 hex go to the arena.
func ja3Of(a *detect.Arena, b []byte) *detect.JA3 {
	sum := md5.Sum(b)
	var hx [32]byte
	hex.Encode(hx[:], sum[:])
	j := a.JA3()
	j.String, j.Hash = a.String(b), a.String(hx[:])
	return j
}

// JA3In returns c's JA3 with its strings in a (nil: allocated).
func (c *ClientHello) JA3In(a *detect.Arena) *detect.JA3 {
	var buf [2048]byte
	return ja3Of(a, c.appendJA3(buf[:0]))
}

// JA4In returns c's JA4 (transport 't' TCP, 'q' QUIC) in a.
func (c *ClientHello) JA4In(a *detect.Arena, transport byte) string {
	var buf [64]byte
	return a.String(c.appendJA4(buf[:0], transport))
}

func (p *Parser) emitEvent(ts int64) {
	a := p.arena
	t := a.TLS()
	var buf [2048]byte
	if p.haveCH {
		c := &p.ch
		t.SNI = c.SNI
		if len(c.ALPN) > 0 {
			t.ALPN = append(a.Strings(len(c.ALPN)), c.ALPN...)
		}
		t.JA3 = ja3Of(a, c.appendJA3(buf[:0]))
		t.JA4 = a.String(c.appendJA4(buf[:0], 't'))
		t.CipherSuites = withoutGREASE(c.CipherSuites, a)
		t.SupportedVersions = withoutGREASE(c.SupportedVersions, a)
		t.Extensions = withoutGREASE(c.Extensions, a)
		t.ECH = c.ECH
		t.Version = VersionName(c.MaxVersion())
	}
	if p.haveSH {
		s := &p.sh
		t.Version = VersionName(s.Version())
		t.CipherSuite = s.CipherSuite
		t.ALPNServer = s.ALPN
		t.JA3S = ja3Of(a, s.appendJA3S(buf[:0]))
	}
	if p.haveCert {
		t.Subject = p.cert.Subject
		t.IssuerDN = p.cert.IssuerDN
		t.Serial = p.cert.Serial
		t.Fingerprint = p.cert.Fingerprint
		t.NotBefore = p.cert.NotBefore
		t.NotAfter = p.cert.NotAfter
	}
	if p.emit != nil {
		e := a.Event()
		e.Type, e.Timestamp, e.TLS = detect.TypeTLS, ts, t
		p.emit(e)
		if p.haveCH && (p.ch.SNINames > 1 || p.ch.SNIExts > 1) {
			p.emit(multipleSNI(a, &p.ch, ts))
		}
	}
}

// multipleSNI is the anomaly for a ClientHello with more than one
// server_name extension or more than one host_name in it: a filter that
// reads the first name and a server that reads another disagree about
// where the connection goes (anomaly type tls_multiple_sni).
func multipleSNI(a *detect.Arena, c *ClientHello, ts int64) *detect.Event {
	e := a.Event()
	e.Type, e.Timestamp = detect.TypeAnomaly, ts
	d := []detect.Detail{detect.Str("sni", c.SNI), detect.Num("names", int64(c.SNINames)), detect.Num("extensions", int64(c.SNIExts))}
	if c.OtherSNI != "" {
		d = append(d, detect.Str("other_sni", c.OtherSNI))
	}
	e.Anomaly = &detect.Anomaly{Type: "tls_multiple_sni", Event: "tls_multiple_sni", Detail: d}
	return e
}
