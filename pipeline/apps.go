package pipeline

import (
	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/reassembly"
)

// detectBytes is how many bytes of a TCP stream protocol detection waits
// for (fewer at a gap or the end): enough for every probe below.
const detectBytes = 16

// appState is one flow's application-layer state: the reassembly handle
// and the parser chosen by content. Allocated when a flow first needs it,
// recycled through the shard's free list.
type appState struct {
	s      *Shard
	index  uint32 // in Shard.apps; the flow's App field
	slot   uint32 // the flow's table slot and ID, to find it again
	flowID uint64
	proto  string // app_proto, "" until detected
	cid    string // community ID, computed once for all events of the flow

	// stream reassembles a TCP flow, from its first data on (a handshake
	// alone costs no stream); synSeq holds the SYNs seen before it.
	stream  *reassembly.Stream
	synSeq  [2]uint32
	synSeen uint8
	sparser detect.StreamParser
	dparser detect.DatagramParser
	done    bool // nothing more to learn from this flow

	probe    [detectBytes]byte // first client (or server) bytes, for detection
	probeLen int
	probeDir int
	probeTS  int64 // packet time of the first probe byte
	upgrades int
	protoIdx int      // index of proto in Shard.protocols; -1 = none
	looked   []lookup // (surface, name) pairs already matched against the rules

	reprobes   uint8          // detection attempts after the first (mid-stream flows)
	skipDir    uint8          // mid-stream, after a failed probe: 1+dir whose message goes on unprobed; 0 = none
	injections int            // forged replies sent into this flow
	pendingInj *pendingInject // an injection whose outcome is being watched

	// The first data segment of each direction (sequence number and first
	// bytes): a second segment at that number with other bytes is a forged
	// or duplicated answer, even after the parser is done with the flow.
	firstSeq  [2]uint32
	firstData [2][firstDataBytes]byte
	firstLen  [2]uint8
	firstSeen uint8

	connectHost string    // the host of an HTTP CONNECT in this flow
	rstSeq      [2]uint32 // the last RST of each direction (burst detection)
	rstTS       [2]int64
	rstSeen     uint8

	anom flowAnomalies // forgery attribution: RTTs, IP-IDs (pipeline/anomaly.go)
}

// appSlabSize is how many app states one allocation makes room for.
const appSlabSize = 256

// protocol is one entry of the content-detection table.
type protocol struct {
	name string
	// stream: TCP; probe sees the first bytes of one direction.
	probeStream func(dir int, b []byte) bool
	newStream   func(emit detect.Emit) detect.StreamParser
	// datagram: UDP; probe sees one payload.
	probeDatagram func(dir int, b []byte) bool
	newDatagram   func(emit detect.Emit) detect.DatagramParser
	// pooled: a parser that said Done goes back to a per-shard pool and is
	// Reset for the next flow (its events own their data; its buffers are
	// reused). Only for parsers whose events share nothing with them.
	pooled bool
}

type resetter interface{ Reset(detect.Emit) }

// newStreamParser takes a parser of protocol i from the shard's pool or makes one.
func (s *Shard) newStreamParser(i int) detect.StreamParser {
	var p detect.StreamParser
	if pool := s.spool[i]; len(pool) > 0 {
		p = pool[len(pool)-1]
		s.spool[i] = pool[:len(pool)-1]
		p.(resetter).Reset(s.emitFn)
	} else {
		p = s.protocols[i].newStream(s.emitFn)
	}
	if ee, ok := p.(detect.EarlyEmitter); ok && s.rules != nil {
		ee.EmitEarly(true) // names matter before their replies: rules, injection
	}
	if au, ok := p.(detect.ArenaUser); ok {
		au.UseArena(&s.arena)
	}
	return p
}

func (s *Shard) newDatagramParser(i int) detect.DatagramParser {
	var p detect.DatagramParser
	if pool := s.dpool[i]; len(pool) > 0 {
		p = pool[len(pool)-1]
		s.dpool[i] = pool[:len(pool)-1]
		p.(resetter).Reset(s.emitFn)
	} else {
		p = s.protocols[i].newDatagram(s.emitFn)
	}
	if au, ok := p.(detect.ArenaUser); ok {
		au.UseArena(&s.arena)
	}
	return p
}

// maxPooled bounds each pool: enough for the flows a shard finishes between
// two of its own new flows, not a cache of every parser ever made.
const maxPooled = 256

// releaseParsers returns a finished flow's parsers to their pools.
func (a *appState) releaseParsers() {
	s := a.s
	if a.protoIdx < 0 || !s.protocols[a.protoIdx].pooled {
		a.sparser, a.dparser = nil, nil
		return
	}
	if a.sparser != nil && len(s.spool[a.protoIdx]) < maxPooled {
		if _, ok := a.sparser.(resetter); ok {
			s.spool[a.protoIdx] = append(s.spool[a.protoIdx], a.sparser)
		}
	}
	if a.dparser != nil && len(s.dpool[a.protoIdx]) < maxPooled {
		if _, ok := a.dparser.(resetter); ok {
			s.dpool[a.protoIdx] = append(s.dpool[a.protoIdx], a.dparser)
		}
	}
	a.sparser, a.dparser = nil, nil
}

// startApp gives a new flow its application state when the protocol can
// carry something a parser wants (TCP, UDP).
func (s *Shard) startApp(f *reassembly.Flow) *appState {
	// App states are never freed, only recycled (s.apps indexes them all).
	a, fresh := s.appPool.Get()
	if fresh {
		*a = appState{index: uint32(len(s.apps)), protoIdx: -1}
		s.apps = append(s.apps, a)
	} else {
		*a = appState{index: a.index, looked: a.looked[:0], protoIdx: -1}
	}
	a.s, a.slot, a.flowID = s, f.Slot(), f.ID
	f.App = a.index
	return a
}

// endApp releases a flow's application state as the flow ends: parsers
// flush what they hold (their events come before the flow event).
func (s *Shard) endApp(f *reassembly.Flow, ts int64) string {
	if f.App == 0 || int(f.App) >= len(s.apps) {
		return ""
	}
	a := s.apps[f.App]
	f.App = 0
	if a.stream != nil && !a.done {
		a.stream.Finish(ts) // segments still waiting for a hole reach the parser first
	}
	if !a.done {
		a.finish(ts)
	}
	s.settleAtEnd(a)
	if a.stream != nil {
		a.stream.Stop()
	}
	proto := a.proto
	*a = appState{index: a.index, looked: a.looked[:0], protoIdx: -1}
	s.appPool.Put(a)
	return proto
}

// appPacket hands one packet of a flow to its application state.
func (s *Shard) appPacket(f *reassembly.Flow, p *capture.Packet, dir int) {
	if s.protocols == nil {
		return
	}
	var a *appState
	if f.App == 0 {
		if p.Proto != capture.ProtoTCP && (p.Proto != capture.ProtoUDP || len(p.Payload) == 0) {
			return
		}
		a = s.startApp(f)
	} else {
		a = s.apps[f.App]
	}
	if a.pendingInj != nil {
		s.watchInject(a, p, dir)
	}
	if p.Proto == capture.ProtoTCP && len(p.Payload) > 0 && f.Marks&markDupResponse == 0 {
		s.checkFirstSegment(a, f, p, dir)
	}
	if a.done {
		return
	}
	s.cur, s.curPkt, s.curDir = a, p, dir
	switch {
	case p.Proto == capture.ProtoTCP && s.streams != nil:
		if a.stream == nil {
			if len(p.Payload) == 0 {
				if bit := uint8(1) << dir; p.TCP.Flags&capture.TCPSyn != 0 && a.synSeen&bit == 0 {
					a.synSeq[dir], a.synSeen = p.TCP.Seq, a.synSeen|bit
				}
				break
			}
			a.stream = s.streams.NewStream(a)
			for d := range a.synSeq {
				if a.synSeen&(1<<d) != 0 {
					a.stream.SawSYN(d, a.synSeq[d])
				}
			}
		}
		s.streams.Assemble(a.stream, p, dir)
		if a.stream.Done() {
			a.done = true
		}
	case p.Proto == capture.ProtoUDP && len(p.Payload) > 0:
		a.datagram(dir, p.Payload, p.Timestamp)
	}
	s.cur, s.curPkt = nil, nil
}

// datagram runs UDP detection and parsing.
func (a *appState) datagram(dir int, b []byte, ts int64) {
	if a.dparser == nil {
		for i := range a.s.protocols {
			pr := &a.s.protocols[i]
			if pr.probeDatagram != nil && pr.probeDatagram(dir, b) {
				a.proto, a.protoIdx = pr.name, i
				a.dparser = a.s.newDatagramParser(i)
				break
			}
		}
		if a.dparser == nil {
			a.done = true
			return
		}
	}
	switch a.dparser.Datagram(dir, b, ts) {
	case detect.NeedMore:
	case detect.Done:
		a.done = true
		a.releaseParsers()
	default:
		a.done = true
	}
}

// StreamData implements reassembly.StreamConsumer.
func (a *appState) StreamData(dir int, data []byte, ts int64) bool {
	s := a.s
	prev := s.cur
	s.cur = a
	defer func() { s.cur = prev }()
	if a.sparser == nil {
		if a.probeLen > 0 && dir != a.probeDir {
			// The other side spoke before detection decided: decide on
			// what we have from the first side.
			if !a.detect() {
				return false
			}
			// A mid-stream flow to probe again: this side's bytes are
			// the next probe (below).
		}
		if a.sparser == nil {
			if a.skipDir == uint8(dir)+1 {
				// Mid-stream: the rest of the message whose start could
				// not be identified (a long response body, say). The next
				// probe is where the other side speaks again.
				return true
			}
			if a.probeLen == 0 {
				a.probeTS = ts
			}
			n := copy(a.probe[a.probeLen:], data)
			a.probeLen += n
			a.probeDir = dir
			if a.probeLen < detectBytes {
				return true
			}
			data = data[n:]
			if !a.detect() {
				return false
			}
			if a.sparser == nil { // re-probing a mid-stream flow: wait for the other side
				return true
			}
		}
		if len(data) == 0 {
			return !a.done
		}
	}
	switch a.sparser.Data(dir, data, ts) {
	case detect.NeedMore:
		return true
	case detect.Upgrade:
		a.upgrade(ts)
		return true
	case detect.Done:
		a.done = true
		a.releaseParsers()
		return false
	}
	// NotMine: the probe was wrong; the flow keeps no protocol name.
	a.proto, a.protoIdx = "", -1
	a.done = true
	return false
}

// upgrade starts detection afresh on a tunnel opened inside the stream
// (CONNECT, SOCKS). Bounded: a stream is re-detected a few times at most.
func (a *appState) upgrade(ts int64) {
	a.sparser.Close(ts)
	a.sparser, a.probeLen, a.skipDir = nil, 0, 0
	a.upgrades++
	if a.upgrades > 3 {
		a.done = true
	}
}

// detect picks the parser from the probe bytes and replays them into it.
// It reports whether the stream is worth following.
func (a *appState) detect() bool {
	b := a.probe[:a.probeLen]
	for i := range a.s.protocols {
		pr := &a.s.protocols[i]
		if pr.probeStream != nil && pr.probeStream(a.probeDir, b) {
			a.proto, a.protoIdx = pr.name, i
			if pr.newStream == nil { // identified, nothing to parse (ssh)
				a.done = true
				return false
			}
			a.sparser = a.s.newStreamParser(i)
			switch a.sparser.Data(a.probeDir, b, a.probeTS) {
			case detect.NeedMore:
				return true
			case detect.Upgrade:
				a.upgrade(a.probeTS)
				return true
			case detect.NotMine: // the probe was wrong: no protocol name
				a.proto, a.protoIdx = "", -1
			}
			a.done = true
			return false
		}
	}
	// Picked up mid-stream, the first bytes are often the tail of a
	// message (a response body, however long): skip the rest of that
	// direction's data and probe again where the other side speaks next
	// (a keep-alive request after its response), a few turns at most.
	if a.reprobes < maxReprobes {
		if f := a.s.table.BySlot(a.slot, a.flowID); f != nil && f.Midstream {
			a.reprobes++
			a.probeLen = 0
			a.skipDir = uint8(a.probeDir) + 1
			return true
		}
	}
	a.done = true
	return false
}

// maxReprobes bounds the detection attempts on a mid-stream flow: one per
// turn of the conversation (a change of the direction data flows in).
const maxReprobes = 4

// StreamGap implements reassembly.StreamConsumer.
func (a *appState) StreamGap(dir int, n int, ts int64) bool {
	if a.sparser == nil {
		if a.probeLen == 0 {
			return true // nothing seen yet: the stream may still be identified
		}
		if !a.detect() {
			return false
		}
		if a.sparser == nil {
			return true // detect asked to probe again after the gap (mid-stream flow)
		}
	}
	prev := a.s.cur
	a.s.cur = a
	defer func() { a.s.cur = prev }()
	if a.sparser.Gap(dir, n, ts) != detect.NeedMore {
		a.done = true
		return false
	}
	return true
}

// StreamEnd implements reassembly.StreamConsumer.
func (a *appState) StreamEnd(ts int64) {
	if !a.done {
		a.finish(ts)
	}
}

// finish flushes the parser (end of stream, flow expiry or shutdown).
func (a *appState) finish(ts int64) {
	prev := a.s.cur
	a.s.cur = a
	defer func() { a.s.cur = prev }()
	if a.sparser == nil && a.probeLen > 0 && a.stream != nil {
		a.detect()
	}
	a.done = true
	if a.sparser != nil {
		a.sparser.Close(ts)
	}
	if a.dparser != nil {
		a.dparser.Close(ts)
	}
	a.releaseParsers()
}

// emitApp completes a parser's event with its flow's context and queues it.
func (s *Shard) emitApp(e *detect.Event) {
	a := s.cur
	if a == nil {
		return // cannot happen: parsers run only under a current flow
	}
	f := s.table.BySlot(a.slot, a.flowID)
	if f == nil {
		return
	}
	if e.Early {
		// A name before its reply: rules (and injection) act now; the
		// parser's full event follows and is what gets published.
		if s.rules != nil {
			s.checkNames(e, a, f)
		}
		return
	}
	if e.Timestamp == 0 {
		e.Timestamp = f.Last
	}
	s.fillContext(e, f, a.cid)
	a.cid = e.CommunityID
	e.AppProto = a.proto
	s.emit(e, eventKind(e.Type))
	s.checkAppAnomalies(e, a, f) // anomaly events too: a SOCKS target (pipeline/anomaly.go)
	if s.nat != nil {
		s.observeNATApp(e)
	}
	if s.rules != nil {
		s.checkNames(e, a, f)
	}
}

func eventKind(t string) int {
	switch t {
	case detect.TypeHTTP:
		return evHTTP
	case detect.TypeTLS:
		return evTLS
	case detect.TypeQUIC:
		return evQUIC
	case detect.TypeDNS:
		return evDNS
	case detect.TypeAnomaly:
		return evAnomaly
	}
	return evFlow
}
