package nat

import (
	"net/netip"
	"strings"
	"testing"
)

// RFC 5769 §2.2: sample IPv4 response (XOR-MAPPED-ADDRESS 192.0.2.1:32853,
// an 11-byte SOFTWARE attribute that must be padded).
var rfc5769v4 = []byte{
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42,
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
	0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
}

// RFC 5769 §2.3: sample IPv6 response (2001:db8:1234:5678:11:2233:4455:6677 port 32853).
var rfc5769v6 = []byte{
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42,
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47,
	0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
	0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c,
	0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
	0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
}

func TestParseSTUNRFC5769(t *testing.T) {
	for _, c := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"ipv4", rfc5769v4, "192.0.2.1:32853"},
		{"ipv6", rfc5769v6, "[2001:db8:1234:5678:11:2233:4455:6677]:32853"},
	} {
		var m STUNMessage
		if !ParseSTUN(c.msg, false, &m) {
			t.Fatalf("%s: not parsed", c.name)
		}
		if !m.IsResponse() || !m.Cookie || m.Mapped.String() != c.want {
			t.Errorf("%s: response=%v cookie=%v mapped=%v, want %s", c.name, m.IsResponse(), m.Cookie, m.Mapped, c.want)
		}
		if ParseSTUN(c.msg[:len(c.msg)-1], false, &m) {
			t.Errorf("%s: truncated message parsed", c.name)
		}
	}
}

// classicResponse builds an RFC 3489 Binding response: MAPPED-ADDRESS,
// SOURCE-ADDRESS, CHANGED-ADDRESS, no cookie.
func classicMsg(typ uint16, txid byte, attrs ...[]byte) []byte {
	var body []byte
	for _, a := range attrs {
		body = append(body, a...)
	}
	b := []byte{byte(typ >> 8), byte(typ), byte(len(body) >> 8), byte(len(body))}
	for i := 0; i < 16; i++ {
		b = append(b, txid+byte(i))
	}
	return append(b, body...)
}

func addrAttr(typ uint16, ap netip.AddrPort) []byte {
	a := ap.Addr().As4()
	return []byte{byte(typ >> 8), byte(typ), 0, 8, 0, 1, byte(ap.Port() >> 8), byte(ap.Port()), a[0], a[1], a[2], a[3]}
}

func changeAttr(flags uint8) []byte { return []byte{0, 3, 0, 4, 0, 0, 0, flags} }

func TestParseSTUNClassic(t *testing.T) {
	msg := classicMsg(stunBindingSuccess, 7,
		addrAttr(attrMappedAddress, netip.MustParseAddrPort("198.51.100.1:40000")),
		addrAttr(attrSourceAddress, netip.MustParseAddrPort("203.0.113.10:3478")),
		addrAttr(attrChangedAddress, netip.MustParseAddrPort("203.0.113.11:3479")))
	var m STUNMessage
	if ParseSTUN(msg, false, &m) {
		t.Fatal("classic message parsed without the STUN-port hint")
	}
	if !ParseSTUN(msg, true, &m) {
		t.Fatal("classic response not parsed")
	}
	if m.Mapped.String() != "198.51.100.1:40000" || m.Changed.String() != "203.0.113.11:3479" || m.Origin.String() != "203.0.113.10:3478" {
		t.Errorf("got mapped %v changed %v origin %v", m.Mapped, m.Changed, m.Origin)
	}
	req := classicMsg(stunBindingRequest, 9, changeAttr(changeIPFlag|changePortFlag))
	if !ParseSTUN(req, true, &m) || !m.IsRequest() || m.Change != changeIPFlag|changePortFlag {
		t.Errorf("change request: %+v", m)
	}
	for _, bad := range [][]byte{nil, make([]byte, 19), append([]byte{0x80}, req[1:]...), req[:len(req)-4]} {
		if ParseSTUN(bad, true, &m) {
			t.Errorf("parsed %x", bad)
		}
	}
}

func TestParseSSDPAndSOAP(t *testing.T) {
	var m SSDPMessage
	resp := "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n" +
		"USN: uuid:x::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: http://192.0.2.1:5000/rootDesc.xml\r\n\r\n"
	if !ParseSSDP([]byte(resp), &m) || m.Kind != SSDPResponse || !m.IGD || m.Location.String() != "192.0.2.1:5000" {
		t.Errorf("response: %+v", m)
	}
	search := "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nST: upnp:rootdevice\r\nMAN: \"ssdp:discover\"\r\nMX: 2\r\n\r\n"
	if !ParseSSDP([]byte(search), &m) || m.Kind != SSDPSearch || m.IGD {
		t.Errorf("search: %+v", m)
	}
	if ParseSSDP([]byte("GET / HTTP/1.1\r\n\r\n"), &m) {
		t.Error("GET parsed as SSDP")
	}
	body := `<?xml version="1.0"?><s:Envelope><s:Body><u:AddPortMapping xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1">` +
		`<NewRemoteHost></NewRemoteHost><NewExternalPort>8080</NewExternalPort><NewProtocol>TCP</NewProtocol>` +
		`<NewInternalPort>80</NewInternalPort><NewInternalClient>192.0.2.11</NewInternalClient><NewEnabled>1</NewEnabled>` +
		`<NewPortMappingDescription>libminiupnpc</NewPortMappingDescription><NewLeaseDuration>3600</NewLeaseDuration></u:AddPortMapping></s:Body></s:Envelope>`
	req := "POST /ctl/IPConn HTTP/1.1\r\nHost: 192.0.2.1:5000\r\nSOAPAction: \"urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping\"\r\n\r\n" + body
	var s SOAPMessage
	if !ParseSOAP([]byte(req), true, &s) || s.Kind != SOAPAddPortMapping || s.ExternalPort != 8080 || string(s.Protocol) != "TCP" ||
		string(s.InternalClient) != "192.0.2.11" || s.InternalPort != 80 || s.LeaseSeconds != 3600 || string(s.Description) != "libminiupnpc" {
		t.Errorf("AddPortMapping: %+v", s)
	}
	ext := "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\r\n<u:GetExternalIPAddressResponse><NewExternalIPAddress>198.51.100.1</NewExternalIPAddress></u:GetExternalIPAddressResponse>"
	if !ParseSOAP([]byte(ext), false, &s) || s.Kind != SOAPExternalIP || s.ExternalIP.String() != "198.51.100.1" {
		t.Errorf("external IP: %+v", s)
	}
	if ParseSOAP([]byte(strings.Replace(req, "AddPortMapping", "GetStatusInfo", -1)), true, &s) {
		t.Error("other action parsed")
	}
}

func TestUAFamily(t *testing.T) {
	for ua, want := range map[string]int{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36":                uaWindows,
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36":                 uaAndroid,
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15": uaIOS,
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15":        uaMacOS,
		"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0":      uaLinux,
		"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36":                 uaChromeOS,
		"curl/7.88.1": uaNone,
	} {
		if got := uaFamily(ua); got != want {
			t.Errorf("%q: %s, want %s", ua, uaFamilyNames[got], uaFamilyNames[want])
		}
	}
}
