package pipeline

import (
	"bytes"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/dns"
	"github.com/nunchi-sensor/nunchi/detect/http"
	"github.com/nunchi-sensor/nunchi/detect/quic"
	"github.com/nunchi-sensor/nunchi/detect/report"
	"github.com/nunchi-sensor/nunchi/detect/socks"
	"github.com/nunchi-sensor/nunchi/detect/tls"
	"github.com/nunchi-sensor/nunchi/detect/tor"
	"github.com/nunchi-sensor/nunchi/detect/vpn"
)

// DefaultProtocols is the content-detection table: protocols are
// recognised by their first bytes, on any port, in this order.
//
// Order: the application protocols first (TLS, HTTP, SOCKS, SSH, QUIC,
// DNS), so that a circumvention probe never takes one of their flows; then
// the exact VPN probes (magic cookie, exact sizes and length fields); the
// fuzzy ESP-in-UDP probe last. The TLS parser is wrapped in a report.Tap
// that derives the Tor anomaly from its events (docs/anomalies.md); HTTP
// proxy use is reported by the shard (anomaly.go).
func DefaultProtocols() []protocol {
	return []protocol{
		{
			name:        "tls",
			probeStream: func(dir int, b []byte) bool { return dir == detect.ToServer && tls.Detect(b) },
			newStream: func(emit detect.Emit) detect.StreamParser {
				return report.NewTap(emit, func(e detect.Emit) detect.StreamParser { return tls.NewParser(e) }, tor.Derive)
			},
			pooled: true, // events come from the shard's arena
		},
		{
			name: "http",
			// A server speaking first with a status line: the flow was
			// picked up mid-stream at a response (reported without its request).
			probeStream: func(dir int, b []byte) bool {
				return http.Detect(dir, b) || (dir == detect.ToClient && http.DetectResponse(b))
			},
			newStream: func(emit detect.Emit) detect.StreamParser { return http.NewParser(emit) },
			pooled:    true, // events come from the shard's arena
		},
		{
			// The handshake is followed; the tunnelled protocol is detected after it.
			name:        "socks",
			probeStream: func(dir int, b []byte) bool { return dir == detect.ToServer && socks.Detect(b) },
			newStream:   func(emit detect.Emit) detect.StreamParser { return socks.NewParser(emit) },
		},
		{
			// Identified for app_proto; nothing to parse yet.
			name:        "ssh",
			probeStream: func(_ int, b []byte) bool { return bytes.HasPrefix(b, []byte("SSH-")) },
		},
		{
			name:          "quic",
			probeDatagram: func(dir int, b []byte) bool { return dir == detect.ToServer && quic.Detect(b) },
			newDatagram:   func(emit detect.Emit) detect.DatagramParser { return quic.NewParser(emit) },
			pooled:        true, // events come from the shard's arena
		},
		{
			name: "dns",
			probeStream: func(dir int, b []byte) bool {
				// DNS over TCP: a 2-byte length, then a message.
				return dir == detect.ToServer && dnsOverTCP(b)
			},
			newStream:     func(emit detect.Emit) detect.StreamParser { return dns.NewParser(emit) },
			probeDatagram: func(_ int, b []byte) bool { return dns.Detect(b) },
			newDatagram:   func(emit detect.Emit) detect.DatagramParser { return dns.NewParser(emit) },
			pooled:        true, // events come from the shard's arena
		},
		// Circumvention (detect/vpn): one anomaly per flow, then Done.
		{
			name:        "pptp", // control connection: magic cookie
			probeStream: vpn.DetectPPTP,
			newStream:   func(emit detect.Emit) detect.StreamParser { return vpn.NewPPTP(emit) },
			pooled:      true,
		},
		{
			name:          "openvpn", // hard reset, TCP with its 2-byte record length
			probeStream:   vpn.DetectOpenVPNTCP,
			newStream:     func(emit detect.Emit) detect.StreamParser { return vpn.NewOpenVPN(emit, true) },
			probeDatagram: vpn.DetectOpenVPNUDP,
			newDatagram:   func(emit detect.Emit) detect.DatagramParser { return vpn.NewOpenVPN(emit, false) },
			pooled:        true,
		},
		{
			name:          "wireguard", // exact sizes, reserved zeros
			probeDatagram: vpn.DetectWireGuard,
			newDatagram:   func(emit detect.Emit) detect.DatagramParser { return vpn.NewWireGuard(emit) },
			pooled:        true,
		},
		{
			name:          "ike", // header length = datagram length; NAT-T marker
			probeDatagram: vpn.DetectIKE,
			newDatagram:   func(emit detect.Emit) detect.DatagramParser { return vpn.NewIPsec(emit) },
			pooled:        true,
		},
		{
			name:          "l2tp", // control message with a Message Type AVP
			probeDatagram: vpn.DetectL2TP,
			newDatagram:   func(emit detect.Emit) detect.DatagramParser { return vpn.NewL2TP(emit) },
			pooled:        true,
		},
		{
			name:          "esp", // ESP in UDP: fuzzy, confirmed over 3 datagrams; keep last
			probeDatagram: vpn.DetectESPUDP,
			newDatagram:   func(emit detect.Emit) detect.DatagramParser { return vpn.NewIPsec(emit) },
			pooled:        true,
		},
	}
}

// dnsOverTCP checks the start of a DNS-over-TCP stream: a length prefix
// that fits a message and a plausible query header (the probe holds only
// the first bytes; dns.Detect wants the whole first question).
func dnsOverTCP(b []byte) bool {
	if len(b) < 14 {
		return false
	}
	l := int(b[0])<<8 | int(b[1])
	h := b[2:]
	flags := int(h[2])<<8 | int(h[3])
	qd, an, ns, ar := int(h[4])<<8|int(h[5]), int(h[6])<<8|int(h[7]), int(h[8])<<8|int(h[9]), int(h[10])<<8|int(h[11])
	if l < 17 || flags>>11&0xf != 0 || flags&0x40 != 0 || qd < 1 || qd > 4 {
		return false
	}
	if flags&0x8000 == 0 { // a query
		return an == 0 && ns == 0 && ar <= 2
	}
	return an <= 256 && ns <= 256 && ar <= 256
}
