package detect

import (
	"strconv"
	"time"
)

// HTTP is the "http" object of an http event: one request, and its
// response when one was seen (Status != 0).
type HTTP struct {
	Hostname    string // Host header (or absolute-URI host), port stripped
	Port        uint16 // port from the Host header; 0 = none given
	URL         string // request target as sent (absolute URI for proxies)
	Method      string
	Protocol    string // "HTTP/1.1"
	UserAgent   string
	Referer     string
	XFF         string
	ContentType string // response Content-Type (request's when no response)
	Status      int    // response status; 0 = no response seen
	Length      int64  // response body length (Content-Length or bytes seen); -1 = unknown
	Redirect    string // response Location
	Proxied     bool   // absolute-URI request or CONNECT: the client talks to a proxy
}

// JA3 is a JA3 or JA3S fingerprint: the MD5 hash and the string hashed.
type JA3 struct {
	Hash   string
	String string
}

// TLS is the "tls" object of a tls event.
type TLS struct {
	SNI               string
	Version           string   // negotiated when the ServerHello was seen, else the ClientHello's; "TLS 1.3"
	ALPN              []string // offered by the client
	ALPNServer        string   // chosen by the server (ServerHello/EncryptedExtensions when visible)
	JA3               *JA3
	JA3S              *JA3
	JA4               string
	CipherSuites      []uint16 // offered, GREASE removed, wire order
	CipherSuite       uint16   // chosen by the server; 0 = not seen
	SupportedVersions []uint16 // offered, GREASE removed
	Extensions        []uint16 // offered, GREASE removed, wire order
	ECH               bool     // encrypted_client_hello extension present
	Subject           string   // server certificate (TLS ≤ 1.2)
	IssuerDN          string
	Serial            string
	Fingerprint       string // SHA-1 of the certificate, colon-separated hex
	NotBefore         int64  // Unix seconds; 0 = unknown
	NotAfter          int64
}

// QUIC is the "quic" object of a quic event (from the client's Initial).
type QUIC struct {
	Version string // "1", "2", "draft-29", "Q046"…
	SNI     string
	ALPN    []string
	JA3     *JA3 // of the ClientHello inside the Initials
	JA4     string
	UA      string // gQUIC user agent (UAID tag), when present
}

// DNS is the "dns" object of a dns event: one query or one answer.
type DNS struct {
	Type    string // "query" or "answer"
	ID      uint16
	RRName  string // question name, lower case, no trailing dot
	RRType  string // question type: "A", "AAAA", "TYPE65280"…
	RCode   string // answers: "NOERROR", "NXDOMAIN"…
	Answers []DNSAnswer
	TCP     bool // carried over TCP
}

// Block is the "block" object of a block event: a rule matched a name, URL
// or address seen in a flow.
type Block struct {
	Surface     string // http_host | http_url | tls_sni | quic_sni | dns_query | dns_answer | ip
	Name        string // what was seen: the host, host+path, SNI, query name or address
	RuleID      string
	List        string
	ListVersion string
	Matched     string // the rule entry that matched, as normalised
	Action      string // log | alert | inject
}

// Inject is the "inject" object: a forged reply raced the real server.
type Inject struct {
	Kind      string // http_warning | tcp_rst | dns_answer
	Name      string // the blocked name that triggered it
	Surface   string // the block surface (http_host, tls_sni, dns_query…)
	Packets   int    // frames sent
	Seq, Ack  uint32 // of the reply to the client (TCP)
	LatencyUS int64  // trigger packet's capture time → last frame sent
	Outcome   string // won | lost | unknown
	Reason    string // how the outcome was decided
	DryRun    bool
}

// Anomaly is the "anomaly" object: something a sensor on a tap is placed
// to notice (DESIGN.md §4): Type is the family (port_scan, syn_flood,
// forged_rst, overlap_conflict, ttl_anomaly, protocol_mismatch, vpn,
// proxy, tor, tls_no_sni, tls_ip_sni, malformed…), Event the specific
// kind within it (horizontal, openvpn, socks5…), Detail the evidence.
type Anomaly struct {
	Type   string
	Event  string
	Detail []Detail
}

// Detail is one piece of evidence: a number (IsNum) or a string.
type Detail struct {
	Key   string
	Str   string
	Num   int64
	IsNum bool
}

// Num returns a numeric Detail.
func Num(key string, v int64) Detail { return Detail{Key: key, Num: v, IsNum: true} }

// Str returns a string Detail.
func Str(key, v string) Detail { return Detail{Key: key, Str: v} }

// DNSAnswer is one resource record of the answer section.
type DNSAnswer struct {
	RRName string
	RRType string
	TTL    uint32
	RData  string // address, name, or text form
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, s)
	}
	return append(b, ']')
}

func appendUint16s(b []byte, vs []uint16) []byte {
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(v), 10)
	}
	return append(b, ']')
}

// field appends ,"name":"value" when value is not empty.
func field(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return AppendString(b, value)
}

func (h *HTTP) appendJSON(b []byte) []byte {
	b = append(b, `,"http":{"hostname":`...)
	b = AppendString(b, h.Hostname)
	if h.Port != 0 {
		b = append(b, `,"http_port":`...)
		b = strconv.AppendUint(b, uint64(h.Port), 10)
	}
	b = field(b, "url", h.URL)
	b = field(b, "http_method", h.Method)
	b = field(b, "protocol", h.Protocol)
	b = field(b, "http_user_agent", h.UserAgent)
	b = field(b, "http_refer", h.Referer)
	b = field(b, "xff", h.XFF)
	b = field(b, "http_content_type", h.ContentType)
	if h.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(h.Status), 10)
	}
	if h.Length >= 0 {
		b = append(b, `,"length":`...)
		b = strconv.AppendInt(b, h.Length, 10)
	}
	b = field(b, "redirect", h.Redirect)
	if h.Proxied {
		b = append(b, `,"proxied":true`...)
	}
	return append(b, '}')
}

func appendJA3(b []byte, name string, j *JA3) []byte {
	if j == nil {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":{"hash":`...)
	b = AppendString(b, j.Hash)
	b = append(b, `,"string":`...)
	b = AppendString(b, j.String)
	return append(b, '}')
}

func (t *TLS) appendJSON(b []byte) []byte {
	b = append(b, `,"tls":{"sni":`...)
	b = AppendString(b, t.SNI)
	b = field(b, "version", t.Version)
	if len(t.ALPN) > 0 {
		b = append(b, `,"alpn":`...)
		b = appendStrings(b, t.ALPN)
	}
	b = field(b, "alpn_server", t.ALPNServer)
	b = appendJA3(b, "ja3", t.JA3)
	b = appendJA3(b, "ja3s", t.JA3S)
	b = field(b, "ja4", t.JA4)
	if len(t.CipherSuites) > 0 {
		b = append(b, `,"cipher_suites":`...)
		b = appendUint16s(b, t.CipherSuites)
	}
	if t.CipherSuite != 0 {
		b = append(b, `,"cipher_suite":`...)
		b = strconv.AppendUint(b, uint64(t.CipherSuite), 10)
	}
	if len(t.SupportedVersions) > 0 {
		b = append(b, `,"supported_versions":`...)
		b = appendUint16s(b, t.SupportedVersions)
	}
	if len(t.Extensions) > 0 {
		b = append(b, `,"extensions":`...)
		b = appendUint16s(b, t.Extensions)
	}
	b = append(b, `,"ech":`...)
	b = strconv.AppendBool(b, t.ECH)
	b = field(b, "subject", t.Subject)
	b = field(b, "issuerdn", t.IssuerDN)
	b = field(b, "serial", t.Serial)
	b = field(b, "fingerprint", t.Fingerprint)
	if t.NotBefore != 0 {
		b = append(b, `,"notbefore":"`...)
		b = time.Unix(t.NotBefore, 0).UTC().AppendFormat(b, "2006-01-02T15:04:05")
		b = append(b, '"')
	}
	if t.NotAfter != 0 {
		b = append(b, `,"notafter":"`...)
		b = time.Unix(t.NotAfter, 0).UTC().AppendFormat(b, "2006-01-02T15:04:05")
		b = append(b, '"')
	}
	return append(b, '}')
}

func (q *QUIC) appendJSON(b []byte) []byte {
	b = append(b, `,"quic":{"version":`...)
	b = AppendString(b, q.Version)
	b = field(b, "sni", q.SNI)
	if len(q.ALPN) > 0 {
		b = append(b, `,"alpn":`...)
		b = appendStrings(b, q.ALPN)
	}
	b = appendJA3(b, "ja3", q.JA3)
	b = field(b, "ja4", q.JA4)
	b = field(b, "ua", q.UA)
	return append(b, '}')
}

func (d *DNS) appendJSON(b []byte) []byte {
	b = append(b, `,"dns":{"type":`...)
	b = AppendString(b, d.Type)
	b = append(b, `,"id":`...)
	b = strconv.AppendUint(b, uint64(d.ID), 10)
	b = append(b, `,"rrname":`...)
	b = AppendString(b, d.RRName)
	b = field(b, "rrtype", d.RRType)
	b = field(b, "rcode", d.RCode)
	if len(d.Answers) > 0 {
		b = append(b, `,"answers":[`...)
		for i := range d.Answers {
			a := &d.Answers[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"rrname":`...)
			b = AppendString(b, a.RRName)
			b = append(b, `,"rrtype":`...)
			b = AppendString(b, a.RRType)
			b = append(b, `,"ttl":`...)
			b = strconv.AppendUint(b, uint64(a.TTL), 10)
			b = append(b, `,"rdata":`...)
			b = AppendString(b, a.RData)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if d.TCP {
		b = append(b, `,"tcp":true`...)
	}
	return append(b, '}')
}

func (j *Inject) appendJSON(b []byte) []byte {
	b = append(b, `,"inject":{"kind":`...)
	b = AppendString(b, j.Kind)
	b = append(b, `,"name":`...)
	b = AppendString(b, j.Name)
	b = append(b, `,"surface":`...)
	b = AppendString(b, j.Surface)
	b = append(b, `,"packets":`...)
	b = strconv.AppendInt(b, int64(j.Packets), 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, uint64(j.Seq), 10)
	b = append(b, `,"ack":`...)
	b = strconv.AppendUint(b, uint64(j.Ack), 10)
	b = append(b, `,"latency_us":`...)
	b = strconv.AppendInt(b, j.LatencyUS, 10)
	b = append(b, `,"outcome":`...)
	b = AppendString(b, j.Outcome)
	if j.Reason != "" {
		b = append(b, `,"outcome_reason":`...)
		b = AppendString(b, j.Reason)
	}
	b = append(b, `,"dry_run":`...)
	b = strconv.AppendBool(b, j.DryRun)
	return append(b, '}')
}

func (a *Anomaly) appendJSON(b []byte) []byte {
	b = append(b, `,"anomaly":{"type":`...)
	b = AppendString(b, a.Type)
	b = append(b, `,"event":`...)
	b = AppendString(b, a.Event)
	if len(a.Detail) > 0 {
		b = append(b, `,"detail":{`...)
		for i, d := range a.Detail {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, d.Key)
			b = append(b, ':')
			if d.IsNum {
				b = strconv.AppendInt(b, d.Num, 10)
			} else {
				b = AppendString(b, d.Str)
			}
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func (k *Block) appendJSON(b []byte) []byte {
	b = append(b, `,"block":{"surface":`...)
	b = AppendString(b, k.Surface)
	b = append(b, `,"name":`...)
	b = AppendString(b, k.Name)
	b = append(b, `,"rule_id":`...)
	b = AppendString(b, k.RuleID)
	b = append(b, `,"list":`...)
	b = AppendString(b, k.List)
	b = append(b, `,"list_version":`...)
	b = AppendString(b, k.ListVersion)
	b = append(b, `,"matched":`...)
	b = AppendString(b, k.Matched)
	b = append(b, `,"action":`...)
	b = AppendString(b, k.Action)
	return append(b, '}')
}
