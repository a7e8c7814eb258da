package inject

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
)

// Sender puts frames on the wire (or in a dry-run pcap).
type Sender interface {
	Send(frame []byte, ts time.Time) error
	Close() error
}

// Stats are the injector's counters: Offered = Sent + sum(Suppressed) +
// Failed, in triggers; Packets counts frames sent.
type Stats struct {
	Offered    uint64            `json:"offered"`
	Sent       uint64            `json:"sent"`
	Packets    uint64            `json:"packets"`
	Failed     uint64            `json:"failed"`
	Suppressed map[string]uint64 `json:"suppressed"`
	OwnSeen    uint64            `json:"own_seen"`
	Won        uint64            `json:"won"`
	Lost       uint64            `json:"lost"`
	Unknown    uint64            `json:"unknown"`
}

// Suppression reasons.
const (
	SuppressNetwork    = "never_inject_network"
	SuppressRate       = "rate_limit"
	SuppressClientRate = "client_rate_limit"
	SuppressPerFlow    = "max_per_flow"
	SuppressTunnel     = "tunnel"
	SuppressNoState    = "no_tcp_state"
	SuppressNoAnswer   = "no_answer_for_qtype"
)

// Result tells the shard what happened to one trigger.
type Result struct {
	Sent       bool
	Suppressed string // reason, when not sent
	Frames     []Frame
	SentAt     time.Time // wall clock after the last frame left
	DryRun     bool
}

// Injector forges and sends warning responses. It is shared by every
// shard: Offer is safe for concurrent use.
type Injector struct {
	cfg          Config
	l2           L2
	page         string
	dnsV4, dnsV6 netip.Addr
	never        []netip.Prefix
	tx           Sender
	dryRun       bool

	mu        sync.Mutex
	tokens    float64
	lastFill  time.Time
	perClient map[netip.Addr]clientBucket
	own       map[uint64]time.Time // frames we sent, until seen on the mirror or expired
	ownCount  atomic.Int32

	offered, sent, packets, failed, ownSeen, won, lost, unknown atomic.Uint64
	suppressed                                                  sync.Map // reason → *atomic.Uint64
}

type clientBucket struct {
	second int64
	n      int
}

// New opens the TX path (or the dry-run pcap) and checks what needs the
// machine: the interface exists, the page file reads. A nil Injector with
// a nil error means injection is disabled.
func New(cfg Config) (*Injector, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("inject: %w", err)
	}
	in := &Injector{cfg: cfg, perClient: map[netip.Addr]clientBucket{}, own: map[uint64]time.Time{},
		tokens: float64(cfg.MaxPerSecond), lastFill: time.Now()}
	var err error
	if in.page, err = readPage(cfg.HTTP.PageFile); err != nil {
		return nil, err
	}
	if cfg.DNS.AnswerIPv4 != "" {
		in.dnsV4 = netip.MustParseAddr(cfg.DNS.AnswerIPv4)
	}
	if cfg.DNS.AnswerIPv6 != "" {
		in.dnsV6 = netip.MustParseAddr(cfg.DNS.AnswerIPv6)
	}
	for _, n := range cfg.NeverInjectNetworks {
		in.never = append(in.never, netip.MustParsePrefix(n).Masked())
	}
	if cfg.NextHopMAC != "" {
		hw, _ := net.ParseMAC(cfg.NextHopMAC)
		copy(in.l2.NextHop[:], hw)
		in.l2.UseHop = true
	}
	if cfg.SourceMAC != "" {
		hw, _ := net.ParseMAC(cfg.SourceMAC)
		copy(in.l2.Src[:], hw)
	}
	if cfg.DryRunPcap != "" {
		in.tx, err = newPcapSender(cfg.DryRunPcap)
		in.dryRun = true
	} else {
		var ifi *net.Interface
		ifi, err = net.InterfaceByName(cfg.Interface)
		if err != nil {
			return nil, fmt.Errorf("inject: interface %q: %w", cfg.Interface, err)
		}
		if cfg.SourceMAC == "" {
			copy(in.l2.Src[:], ifi.HardwareAddr)
		}
		in.tx, err = newRawSender(ifi)
	}
	if err != nil {
		return nil, err
	}
	return in, nil
}

// Close releases the TX path.
func (in *Injector) Close() error {
	if in == nil || in.tx == nil {
		return nil
	}
	return in.tx.Close()
}

// MaxPerFlow is the per-flow bound the shard enforces.
func (in *Injector) MaxPerFlow() int { return in.cfg.MaxPerFlow }

// Window is how long the outcome is watched for.
func (in *Injector) Window() time.Duration { return in.cfg.Window }

func (in *Injector) suppress(reason string) Result {
	v, _ := in.suppressed.LoadOrStore(reason, new(atomic.Uint64))
	v.(*atomic.Uint64).Add(1)
	return Result{Suppressed: reason}
}

// Suppress counts a trigger the shard refused before offering it (max per
// flow, tunnel, no TCP state), so offered = sent + suppressed + failed.
func (in *Injector) Suppress(reason string) Result {
	in.offered.Add(1)
	return in.suppress(reason)
}

// Offer applies the guardrails to t and, when they allow it, builds and
// sends the frames. It runs inline on the shard's goroutine: the reply
// races the real server's.
func (in *Injector) Offer(t *Trigger) Result {
	in.offered.Add(1)
	for _, n := range in.never {
		if n.Contains(t.Client.Unmap()) || n.Contains(t.Server.Unmap()) {
			return in.suppress(SuppressNetwork)
		}
	}
	if reason := in.admit(t.Client); reason != "" {
		return in.suppress(reason)
	}
	frames, err := in.Plan(t)
	if errors.Is(err, errNoAnswer) || errors.Is(err, errDNSQuery) {
		return in.suppress(SuppressNoAnswer)
	}
	if err != nil {
		in.failed.Add(1)
		return Result{Suppressed: "build_error"}
	}
	now := time.Now()
	for _, f := range frames {
		if err := in.tx.Send(f.Data, now); err != nil {
			in.failed.Add(1)
			return Result{Suppressed: "send_error", Frames: frames}
		}
		in.remember(f.Data)
	}
	in.sent.Add(1)
	in.packets.Add(uint64(len(frames)))
	return Result{Sent: true, Frames: frames, SentAt: time.Now(), DryRun: in.dryRun}
}

// admit takes a token from the global and the client's rate limits.
func (in *Injector) admit(client netip.Addr) string {
	in.mu.Lock()
	defer in.mu.Unlock()
	now := time.Now()
	if in.cfg.MaxPerSecond > 0 {
		in.tokens = min(float64(in.cfg.MaxPerSecond), in.tokens+now.Sub(in.lastFill).Seconds()*float64(in.cfg.MaxPerSecond))
		in.lastFill = now
		if in.tokens < 1 {
			return SuppressRate
		}
	}
	if in.cfg.PerClientPerSecond > 0 {
		sec := now.Unix()
		b := in.perClient[client]
		if b.second != sec {
			b = clientBucket{second: sec}
		}
		if b.n >= in.cfg.PerClientPerSecond {
			return SuppressClientRate
		}
		b.n++
		if len(in.perClient) > 1<<16 { // bounded: forget everyone (a new second starts afresh anyway)
			clear(in.perClient)
		}
		in.perClient[client] = b
	}
	if in.cfg.MaxPerSecond > 0 {
		in.tokens--
	}
	return ""
}

// Outcome records the result of the race for the counters.
func (in *Injector) Outcome(o string) {
	switch o {
	case "won":
		in.won.Add(1)
	case "lost":
		in.lost.Add(1)
	default:
		in.unknown.Add(1)
	}
}

// Stats returns the counters.
func (in *Injector) Stats() Stats {
	st := Stats{Offered: in.offered.Load(), Sent: in.sent.Load(), Packets: in.packets.Load(), Failed: in.failed.Load(),
		OwnSeen: in.ownSeen.Load(), Won: in.won.Load(), Lost: in.lost.Load(), Unknown: in.unknown.Load(),
		Suppressed: map[string]uint64{}}
	in.suppressed.Range(func(k, v any) bool {
		st.Suppressed[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return st
}

// IsOwn reports whether a captured packet is one this injector sent (the
// TX port may itself be mirrored): the sensor must not analyse it. Cheap
// when nothing was sent recently.
func (in *Injector) IsOwn(p *capture.Packet) bool {
	if in.ownCount.Load() == 0 {
		return false
	}
	h := ownKey(p.Src, p.Dst, p.SrcPort, p.DstPort, p.Proto, p.TCP.Seq, p.TCP.Flags, p.IPID)
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, ok := in.own[h]; ok {
		delete(in.own, h)
		in.ownCount.Store(int32(len(in.own)))
		in.ownSeen.Add(1)
		return true
	}
	return false
}

// remember records a sent frame's identity (decoded with the sensor's own
// decoder, so it matches what the mirror will show).
func (in *Injector) remember(frame []byte) {
	var p capture.Packet
	dec := decoderPool.Get().(*capture.Decoder)
	defer decoderPool.Put(dec)
	if dec.Decode(&p, capture.LinkEthernet, frame, 1, len(frame)) != capture.Decoded {
		return
	}
	h := ownKey(p.Src, p.Dst, p.SrcPort, p.DstPort, p.Proto, p.TCP.Seq, p.TCP.Flags, p.IPID)
	in.mu.Lock()
	defer in.mu.Unlock()
	now := time.Now()
	if len(in.own) > 4096 {
		for k, t := range in.own {
			if now.Sub(t) > 10*time.Second {
				delete(in.own, k)
			}
		}
		if len(in.own) > 4096 {
			clear(in.own)
		}
	}
	in.own[h] = now
	in.ownCount.Store(int32(len(in.own)))
}

var decoderPool = sync.Pool{New: func() any { return capture.NewDecoder(capture.DefaultDecoderConfig()) }}

func ownKey(src, dst capture.Addr, sp, dp uint16, proto uint8, seq uint32, flags uint8, ipid uint32) uint64 {
	h := uint64(14695981039346656037)
	mix := func(b []byte) {
		for _, c := range b {
			h ^= uint64(c)
			h *= 1099511628211
		}
	}
	mix(src[:])
	mix(dst[:])
	mix([]byte{byte(sp >> 8), byte(sp), byte(dp >> 8), byte(dp), proto, flags,
		byte(seq >> 24), byte(seq >> 16), byte(seq >> 8), byte(seq), byte(ipid >> 8), byte(ipid)})
	return h
}
