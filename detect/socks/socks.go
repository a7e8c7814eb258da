// Package socks follows the SOCKS 4/4a/5 handshake (RFC 1928, 1929) at the
// start of a TCP stream, so that the protocol carried through the proxy
// (HTTP, TLS…) is detected and parsed like any other stream: once the proxy
// grants the connection, the parser answers detect.Upgrade.
//
// When the proxy answers the request (granted or refused), the parser emits
// one anomaly event (Type "proxy", Event "socks"; Detail: version "4",
// "4a" or "5", status "granted" or "refused", target host:port when the
// request was read). A greeting alone, or a reply that is not SOCKS, is
// not reported.
//
// The parser keeps at most 512 bytes per direction; bytes that follow the
// proxy's reply in the same segment belong to the tunnel and are not
// replayed (the tunnelled protocol normally waits for the reply). One
// parser per flow; not safe for concurrent use.
package socks

import (
	"encoding/binary"
	"net/netip"
	"strconv"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/report"
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

	emit  detect.Emit
	arena *detect.Arena
	ts    int64
}

// NewParser returns a parser that reports proxy use to emit (nil: silent).
func NewParser(emit detect.Emit) *Parser { return &Parser{emit: emit} }

// UseArena implements detect.ArenaUser.
func (p *Parser) UseArena(a *detect.Arena) { p.arena = a }

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
func (p *Parser) Data(dir int, data []byte, ts int64) detect.Verdict {
	p.ts = ts
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
	v := p.server()
	if v == detect.Upgrade {
		p.report("granted")
	}
	return v
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
		if b[0] == 0 && b[1] >= 0x5b && b[1] <= 0x5d {
			p.report("refused")
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
		if r[0] == 5 && r[1] <= 8 {
			p.report("refused")
		}
		return detect.Done
	}
	return detect.Done
}

// report emits the proxy/socks anomaly, with the target of the client's
// request when it can be read.
func (p *Parser) report(status string) {
	if p.emit == nil {
		return
	}
	ver, target := p.request()
	e := report.New(p.arena, p.ts, "proxy", "socks",
		detect.Str("version", ver), detect.Str("status", status), detect.Str("target", target))
	if target == "" {
		e.Anomaly.Detail = e.Anomaly.Detail[:2]
	}
	p.emit(e)
}

// request reads the version and the requested host:port from the client's
// bytes.
func (p *Parser) request() (string, string) {
	b := p.buf[detect.ToServer]
	var buf [300]byte
	switch p.version {
	case 4:
		if len(b) < 9 {
			return "4", ""
		}
		port := binary.BigEndian.Uint16(b[2:])
		host := buf[:0]
		ver := "4"
		rest := b[8:]
		i := 0
		for i < len(rest) && rest[i] != 0 {
			i++
		}
		if b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] != 0 && i < len(rest) {
			ver = "4a" // host name after the user ID
			name := rest[i+1:]
			j := 0
			for j < len(name) && name[j] != 0 {
				j++
			}
			host = append(host, name[:min(j, 255)]...)
		} else {
			host = netip.AddrFrom4([4]byte(b[4:8])).AppendTo(host)
		}
		host = append(host, ':')
		host = strconv.AppendUint(host, uint64(port), 10)
		return ver, p.arena.String(host)
	case 5:
		if len(b) < 2 {
			return "5", ""
		}
		off := 2 + int(b[1])
		if p.needAuth && len(b) > off+1 { // RFC 1929: ver, ulen, user, plen, pass
			ul := int(b[off+1])
			if len(b) <= off+2+ul {
				return "5", ""
			}
			off += 3 + ul + int(b[off+2+ul])
		}
		if len(b) < off+5 || b[off] != 5 {
			return "5", ""
		}
		r := b[off:]
		host := buf[:0]
		var rest []byte
		switch r[3] {
		case 1:
			if len(r) < 10 {
				return "5", ""
			}
			host = netip.AddrFrom4([4]byte(r[4:8])).AppendTo(host)
			rest = r[8:]
		case 4:
			if len(r) < 22 {
				return "5", ""
			}
			host = append(host, '[')
			host = netip.AddrFrom16([16]byte(r[4:20])).AppendTo(host)
			host = append(host, ']')
			rest = r[20:]
		case 3:
			n := int(r[4])
			if len(r) < 7+n {
				return "5", ""
			}
			host = append(host, r[5:5+n]...)
			rest = r[5+n:]
		default:
			return "5", ""
		}
		host = append(host, ':')
		host = strconv.AppendUint(host, uint64(binary.BigEndian.Uint16(rest)), 10)
		return "5", p.arena.String(host)
	}
	return "", ""
}

// Gap implements detect.StreamParser: a handshake with a hole is given up.
func (p *Parser) Gap(int, int, int64) detect.Verdict { return detect.Done }

// Close implements detect.StreamParser.
func (p *Parser) Close(int64) {}
