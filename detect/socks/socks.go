// Package socks follows the SOCKS 4/4a/5 handshake (RFC 1928, 1929) at the
// start of a TCP stream, so that the protocol carried through the proxy
// (HTTP, TLS…) is detected and parsed like any other stream: once the proxy
// grants the connection, the parser answers detect.Upgrade.
//
// The parser keeps at most 512 bytes per direction; bytes that follow the
// proxy's reply in the same segment belong to the tunnel and are not
// replayed (the tunnelled protocol normally waits for the reply). One
// parser per flow; not safe for concurrent use.
package socks

import (
	"github.com/nunchi-sensor/nunchi/detect"
)

const maxBuf = 512

// Parser implements detect.StreamParser for the SOCKS handshake.
type Parser struct {
	buf     [2][]byte
	version byte
	// server-side progress: SOCKS5 expects a method choice, then (after
	// user/password) an auth status, then the reply.
	gotMethod, gotAuth bool
	needAuth           bool
}

// NewParser returns a parser. emit is unused: the handshake itself is not an
// event (later anomaly detection reports proxy use).
func NewParser(detect.Emit) *Parser { return &Parser{} }

// Detect reports whether a client's first bytes open a SOCKS handshake.
func Detect(b []byte) bool {
	if len(b) < 3 {
		return false
	}
	switch b[0] {
	case 5: // greeting: version, n methods, methods (each 0..0x80 or 0xff)
		n := int(b[1])
		if n < 1 || n > 16 || len(b) < 2+n && len(b) < 16 {
			return false
		}
		for _, m := range b[2:min(len(b), 2+n)] {
			if m > 0x09 && m < 0x80 {
				return false
			}
		}
		return len(b) == 2+n || (len(b) > 2+n && b[2+n] == 5)
	case 4: // request: version, command (connect/bind), port, address, user id\0
		return len(b) >= 9 && (b[1] == 1 || b[1] == 2)
	}
	return false
}

// Data implements detect.StreamParser.
func (p *Parser) Data(dir int, data []byte, _ int64) detect.Verdict {
	if len(p.buf[dir])+len(data) > maxBuf {
		return detect.Done
	}
	p.buf[dir] = append(p.buf[dir], data...)
	if p.version == 0 && dir == detect.ToServer {
		p.version = p.buf[dir][0]
		if p.version != 4 && p.version != 5 {
			return detect.NotMine
		}
	}
	if dir == detect.ToServer {
		if p.version == 5 && !p.needAuth && len(p.buf[dir]) >= 2 {
			n := int(p.buf[dir][1])
			for _, m := range p.buf[dir][2:min(len(p.buf[dir]), 2+n)] {
				if m == 2 {
					p.needAuth = true // may be chosen; confirmed by the server
				}
			}
		}
		return detect.NeedMore
	}
	return p.server()
}

// server consumes the proxy's replies.
func (p *Parser) server() detect.Verdict {
	b := p.buf[detect.ToClient]
	switch p.version {
	case 4:
		if len(b) < 8 {
			return detect.NeedMore
		}
		if b[1] == 0x5a {
			return detect.Upgrade
		}
		return detect.Done
	case 5:
		off := 0
		if !p.gotMethod {
			if len(b) < 2 {
				return detect.NeedMore
			}
			if b[0] != 5 || b[1] == 0xff {
				return detect.Done
			}
			p.gotMethod, p.needAuth = true, b[1] == 2
			off = 2
		}
		if p.needAuth && !p.gotAuth {
			if len(b) < off+2 {
				p.buf[detect.ToClient] = append(b[:0], b[off:]...)
				return detect.NeedMore
			}
			if b[off+1] != 0 {
				return detect.Done
			}
			p.gotAuth = true
			off += 2
		}
		r := b[off:]
		if len(r) < 5 {
			p.buf[detect.ToClient] = append(b[:0], r...)
			return detect.NeedMore
		}
		var l int
		switch r[3] {
		case 1:
			l = 10
		case 4:
			l = 22
		case 3:
			l = 7 + int(r[4])
		default:
			return detect.Done
		}
		if len(r) < l {
			p.buf[detect.ToClient] = append(b[:0], r...)
			return detect.NeedMore
		}
		if r[0] == 5 && r[1] == 0 {
			return detect.Upgrade
		}
		return detect.Done
	}
	return detect.Done
}

// Gap implements detect.StreamParser: a handshake with a hole is given up.
func (p *Parser) Gap(int, int, int64) detect.Verdict { return detect.Done }

// Close implements detect.StreamParser.
func (p *Parser) Close(int64) {}
