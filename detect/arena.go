package detect

import (
	"net/netip"
	"unsafe"
)

// Arena hands out the memory of events from slabs owned by one shard:
// one allocation serves many events, and nothing handed out is written
// again, so sinks may hold events as long as they like (the GC frees a
// slab once no event references it). Parsers that implement ArenaUser get
// the shard's Arena; a nil *Arena allocates each object on its own, so
// parsers work unchanged without one. Not safe for concurrent use.
type Arena struct {
	bytes   []byte
	u16     []uint16
	strs    []string
	events  []Event
	tls     []TLS
	ja3     []JA3
	http    []HTTP
	dns     []DNS
	answers []DNSAnswer
}

// ArenaUser is implemented by parsers that can take their events' memory
// from an Arena (set after construction and after each Reset).
type ArenaUser interface {
	UseArena(a *Arena)
}

const (
	arenaBytes   = 32 << 10
	arenaObjects = 128
	// arenaMaxString: longer strings get their own allocation rather than
	// wasting the rest of a slab.
	arenaMaxString = 2 << 10
)

// String returns b as a string backed by the arena.
func (a *Arena) String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if a == nil || len(b) > arenaMaxString {
		return string(b)
	}
	if cap(a.bytes)-len(a.bytes) < len(b) {
		a.bytes = make([]byte, 0, arenaBytes)
	}
	off := len(a.bytes)
	a.bytes = append(a.bytes, b...)
	return unsafe.String(&a.bytes[off], len(b))
}

// AddrString returns ip's text form, backed by the arena.
func (a *Arena) AddrString(ip netip.Addr) string {
	var buf [64]byte
	return a.String(ip.AppendTo(buf[:0]))
}

// Uint16s returns an empty slice with room for n values; appending more
// than n reallocates (and so never touches other slices of the slab).
func (a *Arena) Uint16s(n int) []uint16 {
	if n == 0 {
		return nil
	}
	if a == nil || n > arenaBytes/8 {
		return make([]uint16, 0, n)
	}
	if cap(a.u16)-len(a.u16) < n {
		a.u16 = make([]uint16, 0, arenaBytes/2)
	}
	off := len(a.u16)
	a.u16 = a.u16[:off+n]
	return a.u16[off : off : off+n]
}

// Strings returns an empty slice with room for n strings.
func (a *Arena) Strings(n int) []string {
	if n == 0 {
		return nil
	}
	if a == nil || n > arenaObjects {
		return make([]string, 0, n)
	}
	if cap(a.strs)-len(a.strs) < n {
		a.strs = make([]string, 0, arenaObjects*4)
	}
	off := len(a.strs)
	a.strs = a.strs[:off+n]
	return a.strs[off : off : off+n]
}

// Answers returns an empty slice with room for n DNS answers.
func (a *Arena) Answers(n int) []DNSAnswer {
	if n == 0 {
		return nil
	}
	if a == nil || n > arenaObjects {
		return make([]DNSAnswer, 0, n)
	}
	if cap(a.answers)-len(a.answers) < n {
		a.answers = make([]DNSAnswer, 0, arenaObjects*2)
	}
	off := len(a.answers)
	a.answers = a.answers[:off+n]
	return a.answers[off : off : off+n]
}

// take carves one zeroed object from a slab of T.
func take[T any](slab *[]T) *T {
	if len(*slab) == 0 {
		*slab = make([]T, arenaObjects)
	}
	p := &(*slab)[0]
	*slab = (*slab)[1:]
	return p
}

// Event returns a zeroed Event.
func (a *Arena) Event() *Event {
	if a == nil {
		return new(Event)
	}
	return take(&a.events)
}

// TLS returns a zeroed TLS object.
func (a *Arena) TLS() *TLS {
	if a == nil {
		return new(TLS)
	}
	return take(&a.tls)
}

// JA3 returns a zeroed JA3 object.
func (a *Arena) JA3() *JA3 {
	if a == nil {
		return new(JA3)
	}
	return take(&a.ja3)
}

// HTTP returns a zeroed HTTP object.
func (a *Arena) HTTP() *HTTP {
	if a == nil {
		return new(HTTP)
	}
	return take(&a.http)
}

// DNS returns a zeroed DNS object.
func (a *Arena) DNS() *DNS {
	if a == nil {
		return new(DNS)
	}
	return take(&a.dns)
}
