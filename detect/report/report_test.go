package report

import (
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

// fake is a stream parser that emits one event per Data call.
type fake struct {
	emit   detect.Emit
	resets int
	arena  *detect.Arena
	early  bool
}

func (f *fake) Data(dir int, data []byte, ts int64) detect.Verdict {
	f.emit(&detect.Event{Type: detect.TypeTLS, Timestamp: ts, TLS: &detect.TLS{SNI: string(data)}})
	return detect.NeedMore
}
func (f *fake) Gap(int, int, int64) detect.Verdict { return detect.Done }
func (f *fake) Close(int64)                        {}
func (f *fake) Reset(e detect.Emit)                { f.emit = e; f.resets++ }
func (f *fake) UseArena(a *detect.Arena)           { f.arena = a }
func (f *fake) EmitEarly(on bool)                  { f.early = on }

func TestTap(t *testing.T) {
	var got []*detect.Event
	emit := func(e *detect.Event) { got = append(got, e) }
	derive := func(e *detect.Event, a *detect.Arena) *detect.Event {
		if e.TLS.SNI == "x" {
			return New(a, e.Timestamp, "tor", "tls", detect.Str("sni", e.TLS.SNI))
		}
		return nil
	}
	var inner *fake
	tap := NewTap(emit, func(e detect.Emit) detect.StreamParser { inner = &fake{emit: e}; return inner }, derive)
	var arena detect.Arena
	tap.UseArena(&arena)
	tap.EmitEarly(true)
	if inner.arena != &arena || !inner.early {
		t.Fatal("arena or early flag not forwarded")
	}
	tap.Data(0, []byte("a"), 1)
	tap.Data(0, []byte("x"), 2)
	tap.Data(0, []byte("x"), 3) // at most one derived event per flow
	if len(got) != 4 || got[2].Type != detect.TypeAnomaly || got[2].Anomaly.Detail[0].Str != "x" || got[1].Timestamp != 2 {
		t.Fatalf("events: %+v", got)
	}
	got = nil
	tap.Reset(emit)
	tap.Data(0, []byte("x"), 4)
	if inner.resets != 1 || len(got) != 2 {
		t.Fatalf("after Reset: %d resets, %d events", inner.resets, len(got))
	}
	if n := testing.AllocsPerRun(100, func() { tap.Reset(emit) }); n != 0 {
		t.Errorf("Reset allocates %v", n)
	}
}

func TestNew(t *testing.T) {
	var d [MaxDetail + 3]detect.Detail
	for i := range d {
		d[i] = detect.Num("k", int64(i))
	}
	e := New(nil, 7, "vpn", "wireguard", d[:]...)
	if e.Type != detect.TypeAnomaly || e.Timestamp != 7 || len(e.Anomaly.Detail) != MaxDetail {
		t.Fatalf("%+v", e)
	}
	if Hex(nil, []byte{0xde, 0xad}) != "dead" {
		t.Error("hex")
	}
}
