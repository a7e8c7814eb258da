package reassembly

import (
	"github.com/nunchi-sensor/nunchi/capture"
)

// State is a flow's lifecycle state, as reported in flow events.
type State uint8

// Flow states.
const (
	StateNew         State = iota // one side seen, or TCP handshake incomplete
	StateEstablished              // both sides seen / TCP handshake complete
	StateClosed                   // TCP: FIN both ways or RST
)

var stateNames = [...]string{"new", "established", "closed"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// EndReason says why a flow ended. Names are event values and metric labels.
type EndReason uint8

// End reasons.
const (
	EndTimeout  EndReason = iota // idle longer than its timeout (packet time)
	EndForced                    // evicted: the table was full (memcap)
	EndShutdown                  // end of input or sensor shutdown
	EndReuse                     // TCP port reuse: a new SYN on a closed connection
	numEndReasons
)

var endReasonNames = [numEndReasons]string{"timeout", "forced", "shutdown", "reuse"}

func (r EndReason) String() string {
	if r < numEndReasons {
		return endReasonNames[r]
	}
	return "unknown"
}

// Direction of a packet relative to the flow's client/server orientation.
const (
	ToServer = 0
	ToClient = 1
)

// Flow is one bidirectional flow. Pointer-free; owned by a Table and
// valid until the Table's next Update, Expire or Flush call (the slot is
// reused once the flow ends).
type Flow struct {
	Key Key
	ID  uint64 // unique per flow within a run (hash of key and start time)

	// ClientIsA orients the flow: true when Key.A is the client.
	ClientIsA bool
	Midstream bool // TCP flow picked up after its SYN
	Flipped   bool // orientation was corrected after the first packet (e.g. SYN-ACK first)
	State     State
	ICMPType  uint8 // first ICMP type/code seen from the client, for events
	ICMPCode  uint8
	IPVersion uint8

	First, Last int64 // packet time, Unix ns

	Pkts  [2]uint64 // by direction: ToServer, ToClient
	Bytes [2]uint64 // IP bytes by direction
	Data  [2]uint64 // transport payload bytes by direction

	TCPFlags [2]uint8 // OR of all TCP flags by direction
	tcpSeen  uint16   // bits of historyLetters already recorded (per direction: 8 bits each)
	History  [16]byte // Zeek-style history letters: upper case = client, lower = server
	HistLen  uint8

	VLANs    [2]uint16
	NumVLANs uint8
	Tunnel   capture.Tunnel

	// TTL of the first packet in each direction (0 = none yet).
	TTL [2]uint8

	// ACK-gap capture-loss estimate (TCP), by sending direction: seqEnd
	// is where the contiguous data seen ends (valid iff the seqSeen bit is
	// set); ahead counts bytes seen past a hole, up to aheadEnd; Missed
	// counts payload the peer acknowledged that the sensor never saw.
	seqEnd   [2]uint32
	aheadEnd [2]uint32
	ahead    [2]uint32
	seqSeen  uint8
	Missed   [2]uint64

	// The latest ACK, window and IPv4 ID sent by each direction (ackSeen
	// bits say which ACKs are valid): what a forged reply must match.
	lastAck  [2]uint32
	lastWin  [2]uint16
	lastIPID [2]uint16
	ackSeen  uint8
	wscale   [2]uint8 // window scale from the SYN options, +1 (0 = none)

	// App and Marks are free for the shard (per-flow state index, flag
	// bits); the table never reads them and zeroes them for a new flow.
	App   uint32
	Marks uint8

	// LRU list links (slot indices, 0 = none) and the list the flow is on.
	slot       uint32
	prev, next uint32
	list       uint8
	used       bool
}

// Client and Server return the endpoints in client/server orientation.
func (f *Flow) Client() (capture.Addr, uint16) {
	if f.ClientIsA {
		return f.Key.A, f.Key.APort
	}
	return f.Key.B, f.Key.BPort
}

// Server see Client.
func (f *Flow) Server() (capture.Addr, uint16) {
	if f.ClientIsA {
		return f.Key.B, f.Key.BPort
	}
	return f.Key.A, f.Key.APort
}

// trackAckGap updates the ACK-gap estimate with a TCP packet sent in dir.
// When the peer acknowledges past the contiguous data seen, the gap less
// the bytes seen beyond the hole is missed. Over a flow's life the sum is
// "acknowledged − seen", however segments were reordered or re-cut.
// Sequence space is compared modulo 2^32; an ACK behind is old, not a gap.
func (f *Flow) trackAckGap(dir int, p *capture.Packet) {
	fl := p.TCP.Flags
	if fl&capture.TCPSyn != 0 && p.TCP.HasWScale {
		f.wscale[dir] = min(p.TCP.WScale, 14) + 1
	}
	if fl&capture.TCPRst == 0 {
		start := p.TCP.Seq
		end := start + p.PayloadLen
		if fl&capture.TCPSyn != 0 {
			end++
		}
		if fl&capture.TCPFin != 0 {
			end++
		}
		bit := uint8(1) << dir
		switch {
		case f.seqSeen&bit == 0:
			f.seqEnd[dir], f.seqSeen = end, f.seqSeen|bit
		case int32(start-f.seqEnd[dir]) <= 0: // contiguous (or a retransmission)
			if int32(end-f.seqEnd[dir]) > 0 {
				f.seqEnd[dir] = end
				if f.ahead[dir] > 0 && int32(end-f.aheadEnd[dir]) >= 0 {
					f.ahead[dir] = 0 // the hole is filled and everything past it covered
				}
			}
		default: // past a hole
			f.ahead[dir] += end - start
			if f.ahead[dir] == end-start || int32(end-f.aheadEnd[dir]) > 0 {
				f.aheadEnd[dir] = end
			}
		}
	}
	if fl&capture.TCPAck != 0 {
		f.lastAck[dir], f.lastWin[dir], f.ackSeen = p.TCP.Ack, p.TCP.Window, f.ackSeen|1<<dir
		o := 1 - dir
		if f.seqSeen&(1<<o) != 0 {
			if d := int32(p.TCP.Ack - f.seqEnd[o]); d > 0 {
				seen := min(f.ahead[o], uint32(d))
				f.ahead[o] -= seen
				f.Missed[o] += uint64(uint32(d) - seen)
				f.seqEnd[o] = p.TCP.Ack
			}
		}
	}
}

// NextSeq returns the sequence number that follows the contiguous data
// seen from dir (ok = something was seen).
func (f *Flow) NextSeq(dir int) (seq uint32, ok bool) {
	return f.seqEnd[dir], f.seqSeen&(1<<dir) != 0
}

// LastAck returns the latest acknowledgment number and (unscaled) window
// sent by dir (ok = an ACK was seen).
func (f *Flow) LastAck(dir int) (ack uint32, window uint16, ok bool) {
	return f.lastAck[dir], f.lastWin[dir], f.ackSeen&(1<<dir) != 0
}

// ReceiveWindow returns dir's latest advertised window in bytes: scaled
// when both SYNs carried the window-scale option (RFC 7323), else raw.
func (f *Flow) ReceiveWindow(dir int) uint32 {
	w := uint32(f.lastWin[dir])
	if f.wscale[0] != 0 && f.wscale[1] != 0 {
		w <<= f.wscale[dir] - 1
	}
	return w
}

// LastIPID returns the latest IPv4 identification sent by dir.
func (f *Flow) LastIPID(dir int) uint16 { return f.lastIPID[dir] }

// HistoryString returns the history letters (allocates; for reporting).
func (f *Flow) HistoryString() string { return string(f.History[:f.HistLen]) }

// history letters, in bit order of tcpSeen.
const (
	histSyn    = 1 << iota // S
	histSynAck             // H
	histAck                // A (pure ACK)
	histData               // D
	histFin                // F
	histRst                // R
)

func (f *Flow) addHistory(dir int, bit uint16, letter byte) {
	b := bit << (8 * dir)
	if f.tcpSeen&b != 0 {
		return
	}
	f.tcpSeen |= b
	if dir == ToClient {
		letter += 'a' - 'A'
	}
	if int(f.HistLen) < len(f.History) {
		f.History[f.HistLen] = letter
		f.HistLen++
	}
}

// isServicePort is the orientation heuristic for flows whose first packet
// does not say who started them: a well-known or registered service port on
// one side and an ephemeral one on the other.
func isServicePort(p uint16) bool {
	return p < 1024 || p == 1080 || p == 1194 || p == 1723 || p == 3128 || p == 3306 || p == 3389 ||
		p == 4500 || p == 5060 || p == 5222 || p == 5223 || p == 5353 || p == 5432 || p == 6379 ||
		p == 8000 || p == 8008 || p == 8080 || p == 8443 || p == 8888 || p == 9000 || p == 9001 || p == 51820
}
