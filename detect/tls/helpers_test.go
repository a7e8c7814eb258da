package tls

// Test-only builders for handshake bytes.

type chSpec struct {
	version  uint16
	ciphers  []uint16
	exts     []ext // wire order
	sid      int   // session id length
	compress []byte
}

type ext struct {
	typ  uint16
	data []byte
}

func be16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

func vec16(b []byte) []byte { return append(be16(uint16(len(b))), b...) }
func vec8(b []byte) []byte  { return append([]byte{byte(len(b))}, b...) }

func u16s(vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = append(b, be16(v)...)
	}
	return b
}

func sniExt(name string) ext {
	entry := append([]byte{0}, vec16([]byte(name))...)
	return ext{extServerName, vec16(entry)}
}

func alpnExt(protos ...string) ext {
	var l []byte
	for _, p := range protos {
		l = append(l, vec8([]byte(p))...)
	}
	return ext{extALPN, vec16(l)}
}

func svExt(vs ...uint16) ext  { return ext{extSupportedVersions, vec8(u16s(vs...))} }
func sigExt(vs ...uint16) ext { return ext{extSignatureAlgorithms, vec16(u16s(vs...))} }
func grpExt(vs ...uint16) ext { return ext{extSupportedGroups, vec16(u16s(vs...))} }
func ecpfExt(vs ...byte) ext  { return ext{extECPointFormats, vec8(vs)} }

// body returns the ClientHello body (no handshake header).
func (s chSpec) body() []byte {
	b := be16(s.version)
	b = append(b, make([]byte, 32)...)
	b = append(b, vec8(make([]byte, s.sid))...)
	b = append(b, vec16(u16s(s.ciphers...))...)
	comp := s.compress
	if comp == nil {
		comp = []byte{0}
	}
	b = append(b, vec8(comp)...)
	if s.exts != nil {
		var e []byte
		for _, x := range s.exts {
			e = append(e, be16(x.typ)...)
			e = append(e, vec16(x.data)...)
		}
		b = append(b, vec16(e)...)
	}
	return b
}

// handshake wraps a body into a handshake message of type typ.
func handshake(typ byte, body []byte) []byte {
	n := len(body)
	return append([]byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

// records wraps handshake bytes into TLS records of at most size bytes of
// payload each.
func records(ctype byte, hs []byte, size int) []byte {
	var out []byte
	for len(hs) > 0 {
		n := min(size, len(hs))
		out = append(out, ctype, 3, 1)
		out = append(out, be16(uint16(n))...)
		out = append(out, hs[:n]...)
		hs = hs[n:]
	}
	return out
}
