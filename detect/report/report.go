package report

import "github.com/nunchi-sensor/nunchi/detect"

// MaxDetail is the most evidence entries New keeps.
const MaxDetail = 8

// box holds an Anomaly and its evidence in one allocation.
type box struct {
	a detect.Anomaly
	d [MaxDetail]detect.Detail
}

// New returns an anomaly event at packet time ts. Details past MaxDetail are
// dropped.
func New(arena *detect.Arena, ts int64, typ, event string, details ...detect.Detail) *detect.Event {
	b := new(box)
	n := copy(b.d[:], details)
	b.a = detect.Anomaly{Type: typ, Event: event, Detail: b.d[:n:n]}
	e := arena.Event()
	e.Type = detect.TypeAnomaly
	e.Timestamp = ts
	e.Anomaly = &b.a
	return e
}

// Derive inspects one event of the wrapped parser and returns an anomaly
// event for the flow, or nil.
type Derive func(e *detect.Event, arena *detect.Arena) *detect.Event

type resetter interface{ Reset(detect.Emit) }

// Tap wraps a stream parser and derives at most one anomaly per flow from
// its events.
type Tap struct {
	inner  detect.StreamParser
	emit   detect.Emit
	arena  *detect.Arena
	derive Derive
	fired  bool
	self   detect.Emit // t.onEvent, bound once (a method value allocates)
}

var _ detect.StreamParser = (*Tap)(nil)

// NewTap builds the inner parser with mk (handing it the Tap's own emit)
// and wraps it.
func NewTap(emit detect.Emit, mk func(detect.Emit) detect.StreamParser, derive Derive) *Tap {
	t := &Tap{emit: emit, derive: derive}
	t.self = t.onEvent
	t.inner = mk(t.self)
	return t
}

// Inner returns the wrapped parser.
func (t *Tap) Inner() detect.StreamParser { return t.inner }

func (t *Tap) onEvent(e *detect.Event) {
	var d *detect.Event
	if !e.Early && !t.fired && t.derive != nil {
		d = t.derive(e, t.arena)
	}
	t.emit(e)
	if d != nil {
		t.fired = true
		t.emit(d)
	}
}

// Data implements detect.StreamParser.
func (t *Tap) Data(dir int, data []byte, ts int64) detect.Verdict { return t.inner.Data(dir, data, ts) }

// Gap implements detect.StreamParser.
func (t *Tap) Gap(dir int, n int, ts int64) detect.Verdict { return t.inner.Gap(dir, n, ts) }

// Close implements detect.StreamParser.
func (t *Tap) Close(ts int64) { t.inner.Close(ts) }

// Reset readies the Tap and its inner parser for a new flow (the inner
// parser must have a Reset method; parsers without one are not pooled).
func (t *Tap) Reset(emit detect.Emit) {
	t.emit, t.fired = emit, false
	if r, ok := t.inner.(resetter); ok {
		r.Reset(t.self)
	}
}

// UseArena implements detect.ArenaUser.
func (t *Tap) UseArena(a *detect.Arena) {
	t.arena = a
	if au, ok := t.inner.(detect.ArenaUser); ok {
		au.UseArena(a)
	}
}

// EmitEarly implements detect.EarlyEmitter.
func (t *Tap) EmitEarly(on bool) {
	if ee, ok := t.inner.(detect.EarlyEmitter); ok {
		ee.EmitEarly(on)
	}
}

// Hex returns b in lower-case hex, backed by the arena.
func Hex(arena *detect.Arena, b []byte) string {
	var buf [64]byte
	const digits = "0123456789abcdef"
	n := 0
	for _, c := range b {
		if n+2 > len(buf) {
			break
		}
		buf[n], buf[n+1] = digits[c>>4], digits[c&15]
		n += 2
	}
	return arena.String(buf[:n])
}
