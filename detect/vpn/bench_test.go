package vpn

import "testing"

// BenchmarkProbesMiss: the cost every UDP flow that no earlier probe took
// pays once, and every TCP stream on its first bytes: all probes of the
// package on a payload that is none of them.
func BenchmarkProbesMiss(b *testing.B) {
	p := benign["rtp"]
	b.ReportAllocs()
	for b.Loop() {
		DetectOpenVPNUDP(0, p)
		DetectOpenVPNTCP(0, p)
		DetectWireGuard(0, p)
		DetectIKE(0, p)
		DetectL2TP(0, p)
		DetectPPTP(0, p)
		DetectESPUDP(0, p)
	}
}

// BenchmarkOpenVPNSession: a UDP session confirmed in two packets.
func BenchmarkOpenVPNSession(b *testing.B) {
	c, s := unhex(b, ovpnClientReset), unhex(b, ovpnServerReset)
	p := NewOpenVPN(nil, false)
	b.ReportAllocs()
	for b.Loop() {
		p.Reset(nil)
		p.Datagram(0, c, 1)
		p.Datagram(1, s, 2)
	}
}
