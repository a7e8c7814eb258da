package nat

import (
	"net/netip"
	"testing"

	"github.com/nunchi-sensor/nunchi/capture"
)

// FuzzSTUN: any datagram, as a request or an answer, through the parser
// and the tracker: no panic, bounded state.
func FuzzSTUN(f *testing.F) {
	f.Add(rfc5769v4, true)
	f.Add(rfc5769v6, false)
	f.Add(classicMsg(stunBindingRequest, 1, changeAttr(changeIPFlag)), true)
	f.Add(classicMsg(stunBindingSuccess, 1, addrAttr(attrMappedAddress, netip.MustParseAddrPort("198.51.100.1:4000")),
		addrAttr(attrChangedAddress, netip.MustParseAddrPort("203.0.113.11:3479"))), true)
	tr := New(Config{})
	f.Fuzz(func(t *testing.T, b []byte, classic bool) {
		var m STUNMessage
		if !ParseSTUN(b, classic, &m) {
			return
		}
		p := &capture.Packet{Timestamp: t0, IPVersion: 4, Proto: capture.ProtoUDP, Src: addr("198.51.100.1"), SrcPort: 4000,
			Dst: addr("203.0.113.10"), DstPort: 3478, Payload: b}
		if m.IsResponse() {
			p.Src, p.Dst, p.SrcPort, p.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
		}
		tr.ObserveSTUN(p, &m)
		tr.Flush(t0 + 5e9)
	})
}

// FuzzUPnP: SSDP datagrams and SOAP segments, both directions.
func FuzzUPnP(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: http://192.0.2.1:5000/rootDesc.xml\r\n\r\n"))
	f.Add([]byte("POST /ctl HTTP/1.1\r\nSOAPAction: \"x#AddPortMapping\"\r\n\r\n<NewExternalPort>8080</NewExternalPort><NewProtocol>TCP</NewProtocol><NewInternalClient>192.0.2.11</NewInternalClient>"))
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n<NewExternalIPAddress>198.51.100.1</NewExternalIPAddress>"))
	tr := New(Config{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := &capture.Packet{Timestamp: t0, IPVersion: 4, Proto: capture.ProtoTCP, Src: addr("192.0.2.11"), SrcPort: 40000,
			Dst: addr("192.0.2.1"), DstPort: 5000, Payload: b}
		var s SSDPMessage
		if ParseSSDP(b, &s) {
			tr.ObserveSSDP(p, &s)
		}
		var m SOAPMessage
		for _, toServer := range []bool{true, false} {
			if ParseSOAP(b, toServer, &m) {
				tr.ObserveSOAP(p, &m)
			}
		}
	})
}
