package nat

import (
	"bytes"
	"net/netip"
	"strconv"
)

// SSDP message kinds (UPnP Device Architecture 1.1 §1).
const (
	SSDPNone = iota
	SSDPSearch
	SSDPNotify
	SSDPResponse
)

// SSDPMessage is the part of an SSDP datagram NAT analysis uses.
type SSDPMessage struct {
	Kind     int
	Target   []byte         // ST (search, response) or NT (notify); aliases the payload
	Location netip.AddrPort // host:port of LOCATION when it is a literal address
	IGD      bool           // the target names an Internet Gateway Device or its WAN services
}

// ParseSSDP parses an SSDP datagram (UDP port 1900). It never allocates.
func ParseSSDP(b []byte, m *SSDPMessage) bool {
	*m = SSDPMessage{}
	switch {
	case hasPrefixFold(b, "M-SEARCH "):
		m.Kind = SSDPSearch
	case hasPrefixFold(b, "NOTIFY "):
		m.Kind = SSDPNotify
	case hasPrefixFold(b, "HTTP/1.1 200"), hasPrefixFold(b, "HTTP/1.0 200"):
		m.Kind = SSDPResponse
	default:
		return false
	}
	for lines := 0; len(b) > 0 && lines < 32; lines++ {
		i := bytes.IndexByte(b, '\n')
		line := b
		if i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		line = bytes.TrimRight(line, "\r")
		c := bytes.IndexByte(line, ':')
		if c <= 0 {
			continue
		}
		name, val := line[:c], bytes.TrimSpace(line[c+1:])
		switch {
		case equalFold(name, "ST"), equalFold(name, "NT"):
			m.Target = val
		case equalFold(name, "LOCATION"):
			m.Location = urlHostPort(val)
		}
	}
	m.IGD = bytes.Contains(m.Target, []byte("InternetGatewayDevice")) ||
		bytes.Contains(m.Target, []byte("WANIPConnection")) ||
		bytes.Contains(m.Target, []byte("WANPPPConnection"))
	return true
}

// SOAPKind says which IGD action a packet carries.
const (
	SOAPNone = iota
	SOAPAddPortMapping
	SOAPDeletePortMapping
	SOAPExternalIP // a GetExternalIPAddress response
)

// SOAPMessage is an IGD control request or response found in one TCP
// segment. Strings alias the payload.
type SOAPMessage struct {
	Kind           int
	ExternalPort   uint16
	Protocol       []byte
	InternalClient []byte
	InternalPort   uint16
	Description    []byte
	LeaseSeconds   uint32
	ExternalIP     netip.Addr
}

// ParseSOAP looks for a WANIPConnection/WANPPPConnection action in one TCP
// segment of a request (toServer) or response. miniupnpc and most IGD
// clients send headers and body with one write, so the arguments arrive
// in one segment; a request split across segments is not recognised.
func ParseSOAP(b []byte, toServer bool, m *SOAPMessage) bool {
	*m = SOAPMessage{}
	if toServer {
		if !hasPrefixFold(b, "POST ") {
			return false
		}
		switch {
		case bytes.Contains(b, []byte("#AddPortMapping")):
			m.Kind = SOAPAddPortMapping
		case bytes.Contains(b, []byte("#DeletePortMapping")):
			m.Kind = SOAPDeletePortMapping
		default:
			return false
		}
		m.ExternalPort = uint16(xmlUint(b, "NewExternalPort", 65535))
		m.Protocol = xmlValue(b, "NewProtocol")
		m.InternalClient = xmlValue(b, "NewInternalClient")
		m.InternalPort = uint16(xmlUint(b, "NewInternalPort", 65535))
		m.Description = xmlValue(b, "NewPortMappingDescription")
		m.LeaseSeconds = uint32(xmlUint(b, "NewLeaseDuration", 1<<32-1))
		return m.ExternalPort != 0 || m.Kind == SOAPDeletePortMapping
	}
	v := xmlValue(b, "NewExternalIPAddress")
	if v == nil {
		return false
	}
	a, err := netip.ParseAddr(string(v)) // rare: one per GetExternalIPAddress
	if err != nil {
		return false
	}
	m.Kind, m.ExternalIP = SOAPExternalIP, a.Unmap()
	return true
}

// xmlValue returns the text of the first <name>…</…> element in b
// (namespace prefixes on the element are not expected for IGD arguments).
func xmlValue(b []byte, name string) []byte {
	for {
		i := bytes.Index(b, []byte(name))
		if i < 1 {
			return nil
		}
		rest := b[i+len(name):]
		if b[i-1] == '<' && len(rest) > 0 && (rest[0] == '>' || rest[0] == ' ') {
			j := bytes.IndexByte(rest, '>')
			if j < 0 {
				return nil
			}
			rest = rest[j+1:]
			k := bytes.IndexByte(rest, '<')
			if k < 0 {
				return nil
			}
			return bytes.TrimSpace(rest[:k])
		}
		b = rest
	}
}

func xmlUint(b []byte, name string, max uint64) uint64 {
	v := xmlValue(b, name)
	n, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil || n > max {
		return 0
	}
	return n
}

// urlHostPort extracts a literal IP host and port from an http URL.
func urlHostPort(u []byte) netip.AddrPort {
	if !hasPrefixFold(u, "http://") {
		return netip.AddrPort{}
	}
	u = u[len("http://"):]
	if i := bytes.IndexByte(u, '/'); i >= 0 {
		u = u[:i]
	}
	ap, err := netip.ParseAddrPort(string(u))
	if err != nil {
		a, err := netip.ParseAddr(string(u))
		if err != nil {
			return netip.AddrPort{}
		}
		return netip.AddrPortFrom(a, 80)
	}
	return ap
}

func hasPrefixFold(b []byte, p string) bool {
	return len(b) >= len(p) && equalFold(b[:len(p)], p)
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c, d := b[i], s[i]
		if c == d {
			continue
		}
		if l := c | 0x20; l < 'a' || l > 'z' || l != d|0x20 {
			return false
		}
	}
	return true
}
