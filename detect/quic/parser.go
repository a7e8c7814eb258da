package quic

import (
	"bytes"
	"encoding/binary"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/tls"
)

// Bounds.
const (
	// MaxStale is how many client Initials that bring no new CRYPTO bytes
	// (retransmissions, ACK-only or undecryptable packets; for gQUIC, any
	// packet without a CHLO) a Parser reads before it gives up.
	MaxStale = 8
	// MaxInitials caps the client Initials a Parser reads, progress or not:
	// a ClientHello cut into many small Initials (an evasion) is still
	// read, within this bound.
	MaxInitials = 32
	// maxDerivations bounds key derivations per flow (first Initial, then
	// a Retry's new DCID or a compatible version switch).
	maxDerivations = 4
)

// Parser states.
const (
	stateIdle   = iota // no client datagram yet
	stateActive        // the first client datagram was QUIC
	stateDone          // event emitted or given up
)

// Stats counts what one Parser saw. Counters only grow until Reset.
type Stats struct {
	Datagrams       uint64 // client→server datagrams read
	Initials        uint64 // client Initial packets (gQUIC: long-header packets) read
	Decrypted       uint64 // Initials whose AEAD tag verified
	DecryptFailed   uint64 // Initials that did not decrypt with any key tried
	Derivations     uint64 // Initial key derivations
	Malformed       uint64 // long headers that did not parse
	UnknownFrames   uint64 // decrypted packets whose frames were not all read (unknown type, malformed)
	CryptoOverflow  uint64 // CRYPTO bytes beyond MaxCrypto (count of frames clipped)
	CryptoConflicts uint64 // CRYPTO frames that repeated held offsets with different bytes (the first bytes are kept)
	HelloErrors     uint64 // ClientHello (or CHLO) messages that did not parse
	GaveUp          uint64 // flows ended without a complete ClientHello
}

// Parser reads the client side of one UDP flow and emits one quic event
// from the client's first flight. See the package documentation.
type Parser struct {
	emit  detect.Emit
	arena *detect.Arena
	state uint8
	ts    int64

	vi       versionInfo // of the first Initial; vi.kind != kindUnknown iff active
	version  uint32
	keys     *initialKeys
	keyVer   uint32 // version keys were derived for
	keyDCID  [20]byte
	keyDLen  int
	origDCID [20]byte // DCID of the client's first Initial
	origDLen int
	largest  int64 // largest decrypted packet number; -1 none
	initials int   // client Initials read
	stale    int   // of which brought no new CRYPTO bytes

	crypto  cryptoBuf
	scratch []byte
	hello   tls.ClientHello

	stats Stats
}

var _ detect.DatagramParser = (*Parser)(nil)

// NewParser returns a Parser that hands its event to emit.
func NewParser(emit detect.Emit) *Parser {
	p := &Parser{}
	p.Reset(emit)
	return p
}

// Reset prepares p for a new flow, keeping its buffers.
func (p *Parser) Reset(emit detect.Emit) {
	*p = Parser{
		emit:    emit,
		arena:   p.arena,
		largest: -1,
		crypto:  cryptoBuf{data: p.crypto.data},
		scratch: p.scratch[:0],
		hello:   p.hello,
	}
}

// UseArena implements detect.ArenaUser.
func (p *Parser) UseArena(a *detect.Arena) {
	p.arena = a
	p.hello.SetArena(a)
}

// Stats returns the parser's counters.
func (p *Parser) Stats() Stats { return p.stats }

// Datagram implements detect.DatagramParser. Only client→server datagrams
// are read; the first one decides whether the flow is QUIC (NotMine when it
// is not a supported Initial).
func (p *Parser) Datagram(dir int, data []byte, ts int64) detect.Verdict {
	switch {
	case p.state == stateDone:
		return detect.Done
	case dir != detect.ToServer:
		return detect.NeedMore
	case p.state == stateIdle:
		if !Detect(data) {
			return detect.NotMine
		}
		p.state = stateActive
	}
	p.stats.Datagrams++
	p.ts = ts
	p.datagram(data)
	if p.state == stateActive && (p.stale >= MaxStale || p.initials >= MaxInitials) {
		p.giveUp()
	}
	if p.state == stateDone {
		return detect.Done
	}
	return detect.NeedMore
}

// Close implements detect.DatagramParser: a flow that proved to be QUIC but
// never completed its ClientHello is reported without a name.
func (p *Parser) Close(ts int64) {
	if p.state == stateActive {
		p.ts = ts
		p.giveUp()
	}
}

// giveUp ends the flow. When at least one Initial decrypted (or a gQUIC
// header was read) the flow is surely QUIC: it is reported with its
// version only.
func (p *Parser) giveUp() {
	p.stats.GaveUp++
	if p.stats.Decrypted > 0 || p.vi.kind == kindGQUICIETFHeader || p.vi.kind == kindGQUICLegacy {
		p.report(&detect.QUIC{})
		return
	}
	p.state = stateDone
}

// report fills the version, emits and ends the flow.
func (p *Parser) report(q *detect.QUIC) {
	q.Version = p.vi.name
	if q.Version == "" {
		q.Version = gquicName(p.version)
	}
	p.state = stateDone
	if p.emit != nil {
		e := p.arena.Event()
		e.Type, e.Timestamp, e.QUIC = detect.TypeQUIC, p.ts, q
		p.emit(e)
	}
}

// datagram walks the QUIC packets coalesced in one datagram.
func (p *Parser) datagram(b []byte) {
	for len(b) > 0 && p.state == stateActive {
		if b[0]&0x80 == 0 {
			// Short header (its length is the rest of the datagram),
			// trailing padding, or a legacy gQUIC public header.
			if p.vi.kind == kindGQUICLegacy || p.vi.kind == kindUnknown {
				p.gquicLegacy(b)
			}
			return
		}
		if len(b) < 7 {
			return
		}
		ver := binary.BigEndian.Uint32(b[1:5])
		vi := lookupVersion(ver)
		switch vi.kind {
		case kindUnknown:
			return // version negotiation, or a version we do not read
		case kindGQUICIETFHeader:
			p.gquicLong(b, ver)
			return
		case kindGQUICLegacy:
			return
		}
		h, ok := parseLongHeader(b, &vi)
		if !ok {
			p.stats.Malformed++
			return
		}
		if h.ptype == typeRetry {
			return
		}
		pkt := b[:h.end]
		b = b[h.end:]
		if h.ptype == typeInitial {
			p.initial(pkt, &h, &vi)
		}
	}
}

// initial reads one client Initial packet.
func (p *Parser) initial(pkt []byte, h *longHeader, vi *versionInfo) {
	p.initials++
	p.stats.Initials++
	if p.keys == nil {
		p.version = h.version
		p.vi = *vi
		p.origDLen = copy(p.origDCID[:], h.dcid)
	}
	if cap(p.scratch) < h.end {
		p.scratch = make([]byte, 0, max(h.end, 1500))
	}
	plain, ok := p.tryOpen(pkt, h, vi)
	if !ok {
		p.stale++
		p.stats.DecryptFailed++
		if p.stats.Decrypted == 0 {
			// The first Initial did not decrypt: not a client Initial
			// we can read (or forged). Give up without an event.
			p.state = stateDone
			p.stats.GaveUp++
		}
		return
	}
	p.stats.Decrypted++
	if vi.kind == kindQ050 {
		p.stale++ // until chloIn reports
		p.chloIn(plain)
		return
	}
	before, added, conflicts := p.crypto.overflow, p.crypto.added, p.crypto.conflicts
	if !readFrames(&p.crypto, plain) {
		p.stats.UnknownFrames++
	}
	if p.crypto.added == added {
		p.stale++
	}
	p.stats.CryptoConflicts += uint64(p.crypto.conflicts - conflicts)
	if p.crypto.overflow && !before {
		p.stats.CryptoOverflow++
	}
	p.checkHello()
}

// tryOpen decrypts with the cached keys, then (bounded by maxDerivations)
// with keys derived from the first Initial's DCID for this packet's version
// (compatible version negotiation keeps the first DCID) or from this
// packet's DCID (after a Retry). Keys that worked are cached.
func (p *Parser) tryOpen(pkt []byte, h *longHeader, vi *versionInfo) ([]byte, bool) {
	if p.keys != nil {
		if plain, ok := p.openWith(p.keys, pkt, h); ok {
			return plain, true
		}
	}
	orig := p.origDCID[:p.origDLen]
	for i, dcid := range [2][]byte{orig, h.dcid} {
		if i == 1 && bytes.Equal(dcid, orig) {
			break
		}
		if p.keys != nil && p.keyVer == h.version && bytes.Equal(p.keyDCID[:p.keyDLen], dcid) {
			continue // tried above
		}
		if p.stats.Derivations >= maxDerivations {
			break
		}
		p.stats.Derivations++
		k, err := newInitialKeys(vi, dcid)
		if err != nil {
			continue
		}
		if plain, ok := p.openWith(k, pkt, h); ok {
			p.keys, p.keyVer = k, h.version
			p.keyDLen = copy(p.keyDCID[:], dcid)
			return plain, true
		}
	}
	return nil, false
}

func (p *Parser) openWith(k *initialKeys, pkt []byte, h *longHeader) ([]byte, bool) {
	plain, pn, ok := open(k, pkt, h, p.largest, p.scratch[:0:cap(p.scratch)])
	if ok && pn > p.largest {
		p.largest = pn
	}
	return plain, ok
}

// checkHello parses the ClientHello once the CRYPTO stream holds all of it.
func (p *Parser) checkHello() {
	b := p.crypto.prefix()
	if len(b) < 4 {
		return
	}
	if b[0] != 1 { // handshake type client_hello
		p.stats.HelloErrors++
		p.giveUp()
		return
	}
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if 4+n > MaxCrypto {
		p.stats.CryptoOverflow++
		p.giveUp()
		return
	}
	if len(b) < 4+n {
		return
	}
	if err := p.hello.Parse(b[4 : 4+n]); err != nil {
		p.stats.HelloErrors++
		p.giveUp()
		return
	}
	q := &detect.QUIC{SNI: p.hello.SNI, JA3: p.hello.JA3In(p.arena), JA4: p.hello.JA4In(p.arena, 'q')}
	if len(p.hello.ALPN) > 0 {
		q.ALPN = append(p.arena.Strings(len(p.hello.ALPN)), p.hello.ALPN...)
	}
	p.report(q)
}
