package dns

import (
	"encoding/binary"

	"github.com/nunchi-sensor/nunchi/detect"
)

// Per-flow bounds of Parser.
const (
	// MaxUDPMessages: after this many datagrams of one UDP flow, further
	// ones are ignored (the flow stays cheap: no Done for UDP).
	MaxUDPMessages = 1000
	// MaxTCPMessages: after this many messages of one TCP stream the
	// parser says detect.Done.
	MaxTCPMessages = 64
	// maxOutstanding is the size of the table of queries waiting for an
	// answer.
	maxOutstanding = 16
)

// outstanding is a query remembered until its answer.
type outstanding struct {
	id    uint16
	qtype uint16
	name  string
	used  bool
}

// tcpHalf frames one direction of a TCP stream (RFC 1035 §4.2.2).
type tcpHalf struct {
	lenBuf [2]byte
	lenN   int    // bytes of the length prefix seen
	need   int    // message length; valid iff lenN == 2
	buf    []byte // message bytes when split across calls; at most 65535
}

// event is a DNS event allocated in one piece.
// Parser is the DNS detect.DatagramParser (UDP: one message per datagram)
// and detect.StreamParser (TCP: messages with a 2-byte length prefix) of
// one flow. Not safe for concurrent use; one per flow, owned by a shard.
type Parser struct {
	emit  detect.Emit
	arena *detect.Arena

	msgs   int  // messages seen (parsed or not)
	parsed bool // a message parsed: the flow is DNS
	done   bool

	pend [maxOutstanding]outstanding
	// Retransmissions counts queries repeated (same ID, name and type)
	// before their answer: they are not reported again.
	Retransmissions int
	pendPos         int // next slot to overwrite

	tcp [2]tcpHalf
}

var (
	_ detect.DatagramParser = (*Parser)(nil)
	_ detect.StreamParser   = (*Parser)(nil)
)

// NewParser returns a parser that hands its events to emit.
func NewParser(emit detect.Emit) *Parser {
	p := &Parser{}
	p.Reset(emit)
	return p
}

// Reset makes p ready for a new flow, keeping its TCP buffers.
func (p *Parser) Reset(emit detect.Emit) {
	b0, b1 := p.tcp[0].buf[:0], p.tcp[1].buf[:0]
	*p = Parser{emit: emit, arena: p.arena}
	p.tcp[0].buf, p.tcp[1].buf = b0, b1
}

// UseArena implements detect.ArenaUser: events and their strings come
// from a (events then share nothing with the parser, which may be reused).
func (p *Parser) UseArena(a *detect.Arena) { p.arena = a }

// Datagram implements detect.DatagramParser.
func (p *Parser) Datagram(dir int, data []byte, ts int64) detect.Verdict {
	if p.msgs >= MaxUDPMessages {
		return detect.NeedMore
	}
	p.msgs++
	if !p.message(data, ts, false) && !p.parsed {
		return detect.NotMine
	}
	return detect.NeedMore
}

// Data implements detect.StreamParser.
func (p *Parser) Data(dir int, data []byte, ts int64) detect.Verdict {
	if p.done {
		return detect.Done
	}
	h := &p.tcp[dir&1]
	for len(data) > 0 {
		if h.lenN < 2 {
			h.lenBuf[h.lenN] = data[0]
			h.lenN++
			data = data[1:]
			if h.lenN == 2 {
				h.need = int(binary.BigEndian.Uint16(h.lenBuf[:]))
				if h.need == 0 {
					h.lenN = 0
				}
			}
			continue
		}
		var msg []byte
		if len(h.buf) == 0 && len(data) >= h.need {
			msg = data[:h.need]
			data = data[h.need:]
		} else {
			k := min(h.need-len(h.buf), len(data))
			h.buf = append(h.buf, data[:k]...)
			data = data[k:]
			if !p.parsed && len(h.buf) >= 12 && len(h.buf)-k < 12 && !plausibleHeader(h.buf) {
				p.done = true
				return detect.NotMine
			}
			if len(h.buf) < h.need {
				continue
			}
			msg = h.buf
		}
		h.lenN = 0
		p.msgs++
		ok := p.message(msg, ts, true)
		h.buf = h.buf[:0]
		if !ok && !p.parsed {
			p.done = true
			return detect.NotMine
		}
		if p.msgs >= MaxTCPMessages {
			p.done = true
			return detect.Done
		}
	}
	return detect.NeedMore
}

// Gap implements detect.StreamParser: the message framing is lost, so the
// parser gives up.
func (p *Parser) Gap(dir int, n int, ts int64) detect.Verdict {
	if n <= 0 && !p.done {
		return detect.NeedMore
	}
	p.done = true
	if !p.parsed {
		return detect.NotMine
	}
	return detect.Done
}

// Close implements both parser interfaces. Nothing is pending: every
// message is reported when it is complete.
func (p *Parser) Close(ts int64) { p.done = true }

// plausibleHeader is the header part of Detect, for the first message of a
// TCP stream before all of it arrived.
func plausibleHeader(b []byte) bool {
	flags := binary.BigEndian.Uint16(b[2:])
	qd := binary.BigEndian.Uint16(b[4:])
	return flags>>11&0xf <= 6 && qd <= 16
}

// message parses one message and emits its event; false when the message
// did not parse far enough to report (header and question section).
func (p *Parser) message(b []byte, ts int64, tcp bool) bool {
	m, err := ParseMessageArena(b, p.arena)
	if err != nil && !(m.HasQuestion && m.Response) {
		return false
	}
	if m.QDCount == 0 && !m.Response {
		return false // a query without a question says nothing
	}
	p.parsed = true
	ev, d := p.arena.Event(), p.arena.DNS()
	ev.Type = detect.TypeDNS
	ev.Timestamp = ts
	ev.DNS = d
	d.ID = m.ID
	d.TCP = tcp
	if m.HasQuestion {
		d.RRName = m.Question.Name
		d.RRType = TypeName(m.Question.Type)
	}
	if !m.Response {
		d.Type = "query"
		if m.HasQuestion {
			if p.outstandingQuery(m.ID, m.Question) {
				// The same query again before its answer: a client
				// retransmission, not a new question. Counted, not reported.
				p.Retransmissions++
				return true
			}
			p.remember(m.ID, m.Question)
		}
	} else {
		d.Type = "answer"
		d.RCode = RCodeName(m.RCode)
		d.Answers = m.Answers
		if q, ok := p.recall(m.ID, m.Question.Name, m.HasQuestion); ok && !m.HasQuestion {
			d.RRName = q.name
			d.RRType = TypeName(q.qtype)
		}
	}
	p.emit(ev)
	return true
}

// outstandingQuery reports whether the same query (ID, name, type) is
// still waiting for its answer.
func (p *Parser) outstandingQuery(id uint16, q Question) bool {
	for i := range p.pend {
		o := &p.pend[i]
		if o.used && o.id == id && o.qtype == q.Type && o.name == q.Name {
			return true
		}
	}
	return false
}

// remember records a query in the outstanding table (oldest overwritten).
func (p *Parser) remember(id uint16, q Question) {
	p.pend[p.pendPos] = outstanding{id: id, qtype: q.Type, name: q.Name, used: true}
	p.pendPos = (p.pendPos + 1) % maxOutstanding
}

// recall finds (and forgets) the query an answer is for: by ID and name
// when the answer has a question, by ID alone when it has none.
func (p *Parser) recall(id uint16, name string, byName bool) (outstanding, bool) {
	for i := range p.pend {
		o := &p.pend[i]
		if o.used && o.id == id && (!byName || o.name == name) {
			found := *o
			*o = outstanding{}
			return found, true
		}
	}
	return outstanding{}, false
}
