package pipeline

import (
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/inject"
	"github.com/nunchi-sensor/nunchi/reassembly"
	"github.com/nunchi-sensor/nunchi/rules"
)

// pendingInject is an injection whose outcome the shard is watching: its
// inject event is emitted once the race is decided (or the flow ends).
type pendingInject struct {
	ev         *detect.Event
	kind       inject.Kind
	serverNext uint32 // what the client expected from the server when we sent
	ourEnd     uint32 // HTTP: the sequence number after our response and FIN
	sentAt     int64  // wall clock, Unix ns
	deadline   int64  // packet time after which the outcome is settled
}

// tryInject answers a block hit whose rule says inject: it builds a
// trigger from the flow's state and the packet being processed and hands
// it to the injector, inline (the reply races the server's).
func (s *Shard) tryInject(f *reassembly.Flow, cid string, surf rules.Surface, name string, ts int64) {
	a, p := s.cur, s.curPkt
	if a == nil || p == nil {
		return
	}
	var kind inject.Kind
	switch surf {
	case rules.SurfaceHTTPHost, rules.SurfaceHTTPURL:
		kind = inject.KindHTTPWarning
	case rules.SurfaceTLSSNI:
		kind = inject.KindTCPReset
	case rules.SurfaceDNSQuery:
		if p.Proto != capture.ProtoUDP || s.curDir != reassembly.ToServer {
			s.inj.Suppress("dns_over_tcp")
			return
		}
		kind = inject.KindDNSAnswer
	default: // ip, quic_sni, dns_answer: nothing to forge that would win
		s.inj.Suppress("unsupported_surface")
		return
	}
	if kind != inject.KindDNSAnswer && a.injections >= s.inj.MaxPerFlow() {
		// (DNS: each query is its own transaction; the rate limits bound it.)
		s.inj.Suppress(inject.SuppressPerFlow)
		return
	}
	if f.Tunnel.Type != capture.TunnelNone {
		s.inj.Suppress(inject.SuppressTunnel)
		return
	}
	cAddr, cPort := f.Client()
	sAddr, sPort := f.Server()
	t := inject.Trigger{Kind: kind, Name: name, Time: p.Timestamp,
		Client: cAddr.Netip(), Server: sAddr.Netip(), ClientPort: cPort, ServerPort: sPort,
		HasMAC: p.HasMAC, VLANs: f.VLANs[:f.NumVLANs],
		ClientTTL: f.TTL[reassembly.ToServer], ServerTTL: f.TTL[reassembly.ToClient],
		ClientIPID: f.LastIPID(reassembly.ToServer), ServerIPID: f.LastIPID(reassembly.ToClient)}
	if s.curDir == reassembly.ToServer {
		t.ClientMAC, t.ServerMAC = p.SrcMAC, p.DstMAC
	} else {
		t.ClientMAC, t.ServerMAC = p.DstMAC, p.SrcMAC
	}
	if kind == inject.KindDNSAnswer {
		t.DNSQuery = p.Payload
	} else {
		var ok1, ok2 bool
		t.ClientNext, ok1 = f.NextSeq(reassembly.ToServer)
		t.ServerNext, t.ClientWindow, ok2 = f.LastAck(reassembly.ToServer)
		_, t.ServerWindow, _ = f.LastAck(reassembly.ToClient)
		t.ClientRcvWindow, t.ServerRcvWindow = f.ReceiveWindow(reassembly.ToServer), f.ReceiveWindow(reassembly.ToClient)
		if !ok1 || !ok2 {
			s.inj.Suppress(inject.SuppressNoState)
			return
		}
	}
	res := s.inj.Offer(&t)
	if !res.Sent {
		return
	}
	if a.pendingInj != nil { // an earlier race in this flow (DNS) is still open: close it
		s.settleAtEnd(a)
	}
	a.injections++
	sent := res.SentAt.UnixNano()
	lat := sent - p.Timestamp
	if lat < 0 || lat > int64(10*time.Second) { // a replay: packet time is not now
		lat = sent - s.batchWall
	}
	j := &detect.Inject{Kind: kind.String(), Name: name, Surface: surf.String(), Packets: len(res.Frames),
		LatencyUS: lat / 1e3, DryRun: res.DryRun}
	pi := &pendingInject{kind: kind, serverNext: t.ServerNext, sentAt: sent, deadline: p.Timestamp + int64(s.inj.Window())}
	for _, fr := range res.Frames {
		if fr.ToClient {
			j.Seq, j.Ack = fr.Seq, fr.Ack
			if kind == inject.KindHTTPWarning {
				pi.ourEnd = fr.Seq + uint32(fr.PayloadLen) + 1 // data, then our FIN
			}
			break
		}
	}
	e := &detect.Event{Type: detect.TypeInject, Timestamp: ts}
	s.fillContext(e, f, cid)
	e.AppProto = a.proto
	e.Inject = j
	pi.ev = e
	a.pendingInj = pi
	if res.DryRun {
		s.settleInject(a, "unknown", "dry_run")
	}
}

// watchInject decides the race from the packets that follow an injection.
func (s *Shard) watchInject(a *appState, p *capture.Packet, dir int) {
	pi := a.pendingInj
	switch pi.kind {
	case inject.KindHTTPWarning, inject.KindTCPReset:
		if dir == reassembly.ToServer && p.TCP.Flags&capture.TCPAck != 0 {
			if int32(p.TCP.Ack-pi.serverNext) > 0 {
				switch {
				case pi.kind == inject.KindHTTPWarning && p.TCP.Ack == pi.ourEnd:
					s.settleInject(a, "won", "client acknowledged the warning")
				case pi.kind == inject.KindHTTPWarning:
					s.settleInject(a, "lost", "client acknowledged the server's data")
				default:
					s.settleInject(a, "lost", "client acknowledged server data after the resets")
				}
				return
			}
		}
	case inject.KindDNSAnswer:
		if dir == reassembly.ToClient && p.Proto == capture.ProtoUDP {
			if p.Timestamp > pi.sentAt {
				s.settleInject(a, "won", "the real answer came after ours")
			} else {
				s.settleInject(a, "lost", "the real answer came before ours")
			}
			return
		}
	}
	if p.Timestamp > pi.deadline {
		s.settleAtEnd(a)
	}
}

// settleAtEnd decides what the silence after an injection means.
func (s *Shard) settleAtEnd(a *appState) {
	if a.pendingInj == nil {
		return
	}
	switch a.pendingInj.kind {
	case inject.KindTCPReset:
		s.settleInject(a, "won", "no server data acknowledged after the resets")
	case inject.KindDNSAnswer:
		s.settleInject(a, "unknown", "no real answer seen")
	default:
		s.settleInject(a, "unknown", "no acknowledgment seen")
	}
}

func (s *Shard) settleInject(a *appState, outcome, reason string) {
	pi := a.pendingInj
	if pi == nil {
		return
	}
	a.pendingInj = nil
	pi.ev.Inject.Outcome, pi.ev.Inject.Reason = outcome, reason
	s.inj.Outcome(outcome)
	s.emit(pi.ev, evInject)
}
