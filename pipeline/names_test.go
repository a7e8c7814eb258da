package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
	"github.com/nunchi-sensor/nunchi/reassembly"
)

// corpusNames is the part of expected.json the name conformance test reads.
type corpusNames struct {
	Pcaps []struct {
		File       string `json:"file"`
		PeerExpect struct {
			Summary map[string]json.RawMessage `json:"summary"`
		} `json:"peer_expect"`
		TShark struct {
			HTTPRequests []struct {
				Method string  `json:"method"`
				Host   *string `json:"host"`
				URI    string  `json:"uri"`
			} `json:"http_requests"`
			TLSSNI     []string `json:"tls_sni"`
			QUICSNI    []string `json:"quic_sni"`
			GQUICSNI   []string `json:"gquic_sni"`
			DNSQueries []string `json:"dns_queries"`
		} `json:"tshark"`
	} `json:"pcaps"`
}

// nameMisses lists, per capture, expected values nunchi does not report,
// with the reason. docs/conformance.md carries the same table. The target
// is none.
var nameMisses = map[string]map[string]string{
	"ndpi__tls_with_huge_ch.pcapng": {
		"ja4 t13d1811h2_f71e3e15ae0d_5c3a8cf9b2bc": ndpiJA4SNI,
	},
	"ndpi__quic_frags_ch_in_multiple_packets.pcapng": {
		"ja4 q00d0307h3_55b375c5d22e_af0a630e9e67": ndpiJA4SNI + " " + ndpiJA4ALPN,
	},
	"ndpi__quic-29.pcap": {"ja4 q13d0512h3_d55e91d5c3b2_cd318bf3b157": ndpiJA4ALPN},
	"ndpi__quic-27.pcap": {"ja4 q13d0309h3_55b375c5d22e_f68d9329452a": ndpiJA4ALPN},
	"ndpi__tor.pcap": {
		"peer_hostnames_sni endian-pc": "a NetBIOS/DHCPv6 host name nDPI reads; not a surface nunchi inspects (HTTP, TLS, QUIC, DNS)",
	},
}

// nDPI's JA4 departs from the JA4 specification in two ways; nunchi follows
// the specification (and matches Suricata's JA4 values in the corpus). The
// hashed parts (b and c) are checked to be equal to nDPI's.
const (
	ndpiJA4SNI  = "JA4 spec: 'i' when the ClientHello has no server_name extension; nDPI writes 'd'"
	ndpiJA4ALPN = "JA4 spec: first and last character of the first ALPN ('h3-29' → 'h9'); nDPI writes its first two ('h3')"
)

// seenNames is what nunchi reported for one capture.
type seenNames struct {
	http map[string]bool // "host uri", "host:port uri", " uri"
	sni  map[string]bool // TLS and QUIC SNI, HTTP hosts, DNS names: any surface
	dns  map[string]bool
	ja3  map[string]bool // hashes and strings
	ja4  map[string]bool
}

func collectNames(evs []*detect.Event) seenNames {
	s := seenNames{map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}}
	for _, e := range evs {
		switch {
		case e.HTTP != nil:
			h := e.HTTP
			host := strings.ToLower(h.Hostname)
			s.http[host+" "+h.URL] = true
			if h.Port != 0 {
				s.http[host+":"+strconv.Itoa(int(h.Port))+" "+h.URL] = true
			}
			s.http[" "+h.URL] = true
			s.sni[strings.ToLower(h.Hostname)] = true
		case e.TLS != nil:
			s.sni[strings.ToLower(e.TLS.SNI)] = true
			if j := e.TLS.JA3; j != nil {
				s.ja3[j.Hash], s.ja3[j.String] = true, true
			}
			s.ja4[e.TLS.JA4] = true
		case e.QUIC != nil:
			s.sni[strings.ToLower(e.QUIC.SNI)] = true
			if j := e.QUIC.JA3; j != nil {
				s.ja3[j.Hash], s.ja3[j.String] = true, true
			}
			s.ja4[e.QUIC.JA4] = true
		case e.DNS != nil:
			s.dns[strings.ToLower(e.DNS.RRName)] = true
			s.sni[strings.ToLower(e.DNS.RRName)] = true
		}
	}
	return s
}

func peerStrings(raw json.RawMessage) []string {
	var ss []string
	if json.Unmarshal(raw, &ss) == nil {
		return ss
	}
	return nil
}

// TestCorpusNames replays every corpus capture with all parsers on and
// checks that each name the peers' tests or tshark list (HTTP host+URI,
// TLS SNI, QUIC SNI, DNS query names) is in nunchi's events, and that JA3
// and JA4 equal the peer values where given.
func TestCorpusNames(t *testing.T) {
	dir := testutil.CorpusDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp corpusNames
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	for _, pc := range exp.Pcaps {
		t.Run(pc.File, func(t *testing.T) {
			evs, _, err := replayFile(t, filepath.Join(dir, pc.File), Config{Protocols: DefaultProtocols(), Streams: reassembly.DefaultStreamConfig()})
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
			seen := collectNames(evs)
			misses := nameMisses[pc.File]
			check := func(kind, want string, ok bool) {
				key := kind + " " + want
				if _, explained := misses[key]; explained {
					if ok {
						t.Errorf("%s is listed as a miss but was found: remove it from nameMisses", key)
					}
					if kind == "ja4" && !sameJA4Hashes(seen.ja4, want) {
						t.Errorf("%s: not even the hashed parts match any JA4 seen (%v)", key, seen.ja4)
					}
					return
				}
				if !ok {
					t.Errorf("missing %s", key)
				}
			}
			for _, r := range pc.TShark.HTTPRequests {
				host := ""
				if r.Host != nil {
					host = *r.Host
				}
				check("http", host+" "+r.URI, seen.http[strings.ToLower(host)+" "+r.URI])
			}
			for _, n := range pc.TShark.TLSSNI {
				check("tls_sni", n, seen.sni[strings.ToLower(n)])
			}
			for _, n := range append(append([]string{}, pc.TShark.QUICSNI...), pc.TShark.GQUICSNI...) {
				check("quic_sni", n, seen.sni[strings.ToLower(n)])
			}
			for _, n := range pc.TShark.DNSQueries {
				check("dns", n, seen.dns[strings.ToLower(n)])
			}
			sum := pc.PeerExpect.Summary
			for _, k := range []string{"tls_sni", "quic_sni", "hostnames_sni", "tls_or_quic_host", "dns_queries", "dns_hosts"} {
				for _, n := range peerStrings(sum[k]) {
					check("peer_"+k, n, seen.sni[strings.ToLower(n)])
				}
			}
			for _, k := range []string{"ja3", "ja3c"} {
				for _, v := range peerStrings(sum[k]) {
					check("ja3", v, seen.ja3[v])
				}
			}
			for _, v := range peerStrings(sum["ja4"]) {
				check("ja4", v, seen.ja4[v])
			}
			if t.Failed() {
				var got []string
				for k := range seen.sni {
					got = append(got, k)
				}
				sort.Strings(got)
				t.Logf("names seen: %q", got)
			}
		})
	}
}

// sameJA4Hashes reports whether a JA4 seen has the hashed parts (b_c) of want.
func sameJA4Hashes(seen map[string]bool, want string) bool {
	i := strings.IndexByte(want, '_')
	if i < 0 {
		return false
	}
	for j := range seen {
		if k := strings.IndexByte(j, '_'); k >= 0 && j[k:] == want[i:] {
			return true
		}
	}
	return false
}
