package reassembly

import (
	"github.com/nunchi-sensor/nunchi/capture"
)

// EndFunc receives each flow as it ends, before its slot is reused. The
// *Flow is valid only during the call.
type EndFunc func(f *Flow, reason EndReason)

// TableStats are a Table's counters. Created = sum(Ended) + Active.
type TableStats struct {
	Packets          uint64 // packets applied to flows
	Created          uint64
	Ended            [numEndReasons]uint64
	Active           uint64 // gauge
	Peak             uint64 // highest Active
	EmergencyEntered uint64 // times the table went into emergency mode
	Emergency        bool
	TCPReuse         uint64 // also counted in Ended[EndReuse]
}

// EndReasonNames lists the end reasons in index order (for metrics).
func EndReasonNames() []string { return endReasonNames[:] }

const (
	chunkBits = 12
	chunkSize = 1 << chunkBits
)

// lists: one LRU list per (protocol class, state); every flow on a list
// shares the list's timeout, so each list is ordered by last-seen time and
// expiry only looks at list heads.
const (
	classTCP = iota
	classUDP
	classOther
	numClasses
	numLists = numClasses * 3
)

type lruList struct{ head, tail uint32 }

// Table tracks the flows of one shard: a map from canonical key to a slot in
// chunked, pointer-free storage, with per-timeout LRU lists driven by
// packet time. Bounded by FlowConfig.MaxFlows: at the bound it enters
// emergency mode (shorter timeouts), then evicts the oldest flow.
// Not safe for concurrent use: one Table per shard.
type Table struct {
	cfg      FlowConfig
	idx      flowIndex
	chunks   [][]Flow
	free     []uint32
	nextSlot uint32 // slots below it have been handed out at least once; 0 is the nil slot
	lists    [numLists]lruList
	normal   [numLists]int64 // timeouts in ns
	emerg    [numLists]int64
	onEnd    EndFunc
	stats    TableStats
	recover  int // active count under which emergency mode ends
}

// NewTable returns an empty table; cfg must be valid. onEnd may be nil.
func NewTable(cfg FlowConfig, onEnd EndFunc) *Table {
	t := &Table{cfg: cfg, onEnd: onEnd, nextSlot: 1}
	t.indexInit()
	set := func(dst *[numLists]int64, pt ProtoTimeouts) {
		for c, to := range [numClasses]Timeouts{pt.TCP, pt.UDP, pt.Other} {
			dst[c*3+int(StateNew)] = int64(to.New)
			dst[c*3+int(StateEstablished)] = int64(to.Established)
			dst[c*3+int(StateClosed)] = int64(to.Closed)
		}
	}
	set(&t.normal, cfg.Timeouts)
	set(&t.emerg, cfg.EmergencyTimeouts)
	t.recover = cfg.MaxFlows * cfg.EmergencyRecovery / 100
	return t
}

// Stats returns a copy of the counters.
func (t *Table) Stats() TableStats { return t.stats }

// Len returns the number of active flows.
func (t *Table) Len() int { return t.idx.n }

func (t *Table) slot(i uint32) *Flow { return &t.chunks[i>>chunkBits][i&(chunkSize-1)] }

func classOf(proto uint8) int {
	switch proto {
	case capture.ProtoTCP:
		return classTCP
	case capture.ProtoUDP:
		return classUDP
	}
	return classOther
}

func (t *Table) timeout(f *Flow) int64 {
	if t.stats.Emergency {
		return t.emerg[f.list]
	}
	return t.normal[f.list]
}

// Slot identifies a flow's storage: valid with its ID, see BySlot.
func (f *Flow) Slot() uint32 { return f.slot }

// BySlot returns the live flow in slot with the given ID, or nil when that
// flow has ended (the slot may hold another flow by now). For state kept
// outside the table (stream parsers) that must find its flow again.
func (t *Table) BySlot(slot uint32, id uint64) *Flow {
	if slot == 0 || slot >= t.nextSlot {
		return nil
	}
	f := t.slot(slot)
	if !f.used || f.ID != id {
		return nil
	}
	return f
}

// Lookup returns the flow of p without changing anything, or nil.
func (t *Table) Lookup(p *capture.Packet) *Flow {
	k, _ := KeyOf(p, t.cfg.VLANInKey)
	if i := t.find(&k, uint32(k.Hash())); i != 0 {
		return t.slot(i)
	}
	return nil
}

// Update applies p to its flow, creating the flow when needed, and returns
// the flow and the packet's direction (ToServer or ToClient). The flow is
// valid until the next call on t.
func (t *Table) Update(p *capture.Packet) (*Flow, int) {
	k, aToB := KeyOf(p, t.cfg.VLANInKey)
	now := p.Timestamp
	h := k.Hash()
	i := t.find(&k, uint32(h))
	ok := i != 0
	if ok {
		f := t.slot(i)
		switch {
		case now-f.Last > t.timeout(f):
			t.end(i, EndTimeout)
			ok = false
		case f.State == StateClosed && p.Proto == capture.ProtoTCP && p.TCP.Flags&(capture.TCPSyn|capture.TCPAck|capture.TCPRst) == capture.TCPSyn:
			t.stats.TCPReuse++
			t.end(i, EndReuse)
			ok = false
		}
	}
	if !ok {
		i = t.create(&k, h, p, aToB)
	}
	f := t.slot(i)
	dir := ToClient
	if aToB == f.ClientIsA {
		dir = ToServer
	}
	t.apply(i, f, p, dir)
	t.stats.Packets++
	return f, dir
}

func (t *Table) create(k *Key, h uint64, p *capture.Packet, aToB bool) uint32 {
	if t.idx.n >= t.cfg.MaxFlows {
		t.makeRoom(p.Timestamp)
	}
	var i uint32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		i = t.nextSlot
		t.nextSlot++
		if int(i>>chunkBits) >= len(t.chunks) {
			t.chunks = append(t.chunks, make([]Flow, chunkSize))
		}
	}
	f := t.slot(i)
	*f = Flow{Key: *k, First: p.Timestamp, Last: p.Timestamp, used: true, IPVersion: p.IPVersion,
		VLANs: p.VLANs, NumVLANs: p.NumVLANs, Tunnel: p.Tunnel}
	f.slot = i
	f.ID = (h ^ mix(uint64(p.Timestamp))) & (1<<53 - 1)
	if f.ID == 0 {
		f.ID = 1
	}
	srcIsClient := orientSrcIsClient(p)
	f.ClientIsA = srcIsClient == aToB
	if p.Proto == capture.ProtoTCP && p.TCP.Flags&capture.TCPSyn == 0 {
		f.Midstream = true
	}
	if p.Proto == capture.ProtoICMP || p.Proto == capture.ProtoICMPv6 {
		f.ICMPType, f.ICMPCode = uint8(p.SrcPort), uint8(p.DstPort)
		if !srcIsClient {
			// A reply seen first: report the request the client sent, so
			// that events and Community ID (client → server) are right.
			f.ICMPType, f.ICMPCode = uint8(icmpKeyType(p.Proto, uint8(p.SrcPort))), 0
		}
	}
	f.list = uint8(classOf(p.Proto)*3) + uint8(StateNew)
	t.pushBack(i, f)
	t.insert(uint32(h), i)
	t.stats.Created++
	t.stats.Active = uint64(t.idx.n)
	if t.stats.Active > t.stats.Peak {
		t.stats.Peak = t.stats.Active
	}
	return i
}

// orientSrcIsClient decides from a flow's first packet whether its sender
// is the client.
func orientSrcIsClient(p *capture.Packet) bool {
	switch p.Proto {
	case capture.ProtoTCP:
		switch p.TCP.Flags & (capture.TCPSyn | capture.TCPAck) {
		case capture.TCPSyn:
			return true
		case capture.TCPSyn | capture.TCPAck:
			return false
		}
	case capture.ProtoICMP:
		switch p.SrcPort {
		case 0, 14, 16, 18:
			return false
		}
		return true
	case capture.ProtoICMPv6:
		switch p.SrcPort {
		case 129, 131, 132, 134, 136:
			return false
		}
		return true
	}
	// Mid-stream TCP, UDP, SCTP: a service port talking to a non-service
	// port is the server answering.
	if isServicePort(p.SrcPort) && !isServicePort(p.DstPort) {
		return false
	}
	if isServicePort(p.SrcPort) && isServicePort(p.DstPort) && p.SrcPort < p.DstPort {
		return false
	}
	return true
}

func (t *Table) apply(i uint32, f *Flow, p *capture.Packet, dir int) {
	// A packet older than the flow's Last (merged captures) leaves Last
	// and the flow's place in its LRU list alone: moving it to the tail
	// would queue a stale flow behind newer ones, where Expire (which stops
	// at the first head not idle) and eviction (oldest head) miss it.
	late := p.Timestamp < f.Last
	if !late {
		f.Last = p.Timestamp
	}
	pkts, bytes := uint64(p.WirePkts), uint64(p.WireBytes)
	if pkts == 0 && p.Flags&capture.FlagFragTail == 0 { // a Packet not made by capture.Decoder
		pkts, bytes = 1, uint64(p.IPLen)
	}
	f.Pkts[dir] += pkts
	f.Bytes[dir] += bytes
	f.Data[dir] += uint64(p.PayloadLen)
	if f.TTL[dir] == 0 {
		f.TTL[dir] = p.TTL
	}
	f.lastIPID[dir] = uint16(p.IPID)
	state := f.State
	if p.Proto == capture.ProtoTCP {
		fl := p.TCP.Flags
		f.TCPFlags[dir] |= fl
		f.trackAckGap(dir, p)
		switch {
		case fl&capture.TCPSyn != 0 && fl&capture.TCPAck == 0:
			f.addHistory(dir, histSyn, 'S')
		case fl&capture.TCPSyn != 0:
			f.addHistory(dir, histSynAck, 'H')
		}
		if p.PayloadLen > 0 {
			f.addHistory(dir, histData, 'D')
		} else if fl == capture.TCPAck {
			f.addHistory(dir, histAck, 'A')
		}
		if fl&capture.TCPFin != 0 {
			f.addHistory(dir, histFin, 'F')
		}
		if fl&capture.TCPRst != 0 {
			f.addHistory(dir, histRst, 'R')
		}
		switch {
		case fl&capture.TCPRst != 0:
			state = StateClosed
		case f.TCPFlags[ToServer]&capture.TCPFin != 0 && f.TCPFlags[ToClient]&capture.TCPFin != 0:
			state = StateClosed
		case state == StateNew && f.Pkts[ToServer] > 0 && f.Pkts[ToClient] > 0:
			// Handshake seen (SYN-ACK answered), or a mid-stream flow seen both ways.
			if f.Midstream || (f.TCPFlags[ToClient]&capture.TCPSyn != 0 && dir == ToServer && fl&capture.TCPAck != 0) {
				state = StateEstablished
			}
		}
	} else if state == StateNew && f.Pkts[ToServer] > 0 && f.Pkts[ToClient] > 0 {
		state = StateEstablished
	}
	if state != f.State {
		f.State = state
		t.unlink(i, f)
		f.list = uint8(classOf(p.Proto)*3) + uint8(state)
		t.pushBack(i, f)
	} else if !late && t.lists[f.list].tail != i {
		t.unlink(i, f)
		t.pushBack(i, f)
	}
}

// Expire ends every flow idle for longer than its timeout at packet time
// now. Cost is proportional to the flows that expire.
func (t *Table) Expire(now int64) {
	for l := range t.lists {
		to := t.normal[l]
		if t.stats.Emergency {
			to = t.emerg[l]
		}
		for {
			i := t.lists[l].head
			if i == 0 || now-t.slot(i).Last <= to {
				break
			}
			t.end(i, EndTimeout)
		}
	}
	if t.stats.Emergency && t.idx.n < t.recover {
		t.stats.Emergency = false
	}
}

// makeRoom frees at least one slot: emergency timeouts first, then the
// least recently seen flow is evicted.
func (t *Table) makeRoom(now int64) {
	if !t.stats.Emergency {
		t.stats.Emergency = true
		t.stats.EmergencyEntered++
	}
	t.Expire(now)
	if t.idx.n < t.cfg.MaxFlows {
		return
	}
	var oldest uint32
	var oldestLast int64
	for l := range t.lists {
		if h := t.lists[l].head; h != 0 {
			if last := t.slot(h).Last; oldest == 0 || last < oldestLast {
				oldest, oldestLast = h, last
			}
		}
	}
	if oldest != 0 {
		t.end(oldest, EndForced)
	}
	// Stay in emergency mode until the table recovers below the threshold.
	t.stats.Emergency = true
}

// Flush ends every flow with reason (EndShutdown at the end of input),
// oldest first in each list: deterministic for a given input.
func (t *Table) Flush(reason EndReason) {
	for l := range t.lists {
		for t.lists[l].head != 0 {
			t.end(t.lists[l].head, reason)
		}
	}
	t.stats.Emergency = false
}

func (t *Table) end(i uint32, reason EndReason) {
	f := t.slot(i)
	if t.onEnd != nil {
		t.onEnd(f, reason)
	}
	t.unlink(i, f)
	t.remove(uint32(f.Key.Hash()), i)
	f.used = false
	t.free = append(t.free, i)
	t.stats.Ended[reason]++
	t.stats.Active = uint64(t.idx.n)
}

func (t *Table) pushBack(i uint32, f *Flow) {
	l := &t.lists[f.list]
	f.prev, f.next = l.tail, 0
	if l.tail != 0 {
		t.slot(l.tail).next = i
	} else {
		l.head = i
	}
	l.tail = i
}

func (t *Table) unlink(i uint32, f *Flow) {
	l := &t.lists[f.list]
	if f.prev != 0 {
		t.slot(f.prev).next = f.next
	} else {
		l.head = f.next
	}
	if f.next != 0 {
		t.slot(f.next).prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = 0, 0
}
