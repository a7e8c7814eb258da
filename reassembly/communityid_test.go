package reassembly

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// communityIDVector is one published Community ID test vector: a flow tuple
// and its expected IDs with seed 0, with seed 1, and the seed-0 SHA-1 digest
// in hex (the spec's "--no-base64" rendering, without its "1:" prefix).
type communityIDVector struct {
	proto            uint8
	src, dst         string
	sport, dport     uint16 // ICMP/ICMPv6: type, code; 0 for port-less protocols
	seed0, seed1, hx string
}

// The vectors below are copied verbatim from the Community ID specification
// repository, https://github.com/corelight/community-id-spec, directory
// baseline/ (commit c4ec2bc40d65ddbcbdd642582bf5609797a80772):
//
//   - communityIDReadmeVectors: the three tables in baseline/README.md
//     ("Default settings", "A custom seed=1 value", "No base64-encoding").
//   - communityIDPcapVectors: baseline/baseline_deflt.json,
//     baseline/baseline_seed1.json and baseline/baseline_nob64.json, produced
//     by pycommunityid's community-id-pcap on pcaps/combined.pcap.gz. Their
//     ICMP "sport"/"dport" fields hold the mapped port equivalents; for
//     two-way types that is (type, counterpart type) and for one-way types
//     (type, code), so passing them as (type, code) yields the same IDs.
//     Port-less entries ("sport": null) use 0.
var communityIDReadmeVectors = []communityIDVector{
	// Bidirectional flows, out and back.
	{6, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:wCb3OG7yAFWelaUydu0D+125CLM=", "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=", "c026f7386ef200559e95a53276ed03fb5db908b3"},
	{6, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:wCb3OG7yAFWelaUydu0D+125CLM=", "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=", "c026f7386ef200559e95a53276ed03fb5db908b3"},
	{17, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=", "1:OShq+iKDAMVouh/4bMxB9Sz4amw=", "d0cbbd227431eb3e1988264cffb1d78b658c84e8"},
	{17, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=", "1:OShq+iKDAMVouh/4bMxB9Sz4amw=", "d0cbbd227431eb3e1988264cffb1d78b658c84e8"},
	{132, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=", "1:uitchpn5MMGAQKBJh7bIr/bAr7s=", "10ab7832cc6ec9a13a98bfa19ab12443d72c0c3f"},
	{132, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=", "1:uitchpn5MMGAQKBJh7bIr/bAr7s=", "10ab7832cc6ec9a13a98bfa19ab12443d72c0c3f"},
	// ICMP echo request and response; unidirectional time exceeded.
	{1, "1.2.3.4", "5.6.7.8", 8, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=", "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=", "72ba1d4472f6144b078dbbf752446b7dbb386d9d"},
	{1, "5.6.7.8", "1.2.3.4", 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=", "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=", "72ba1d4472f6144b078dbbf752446b7dbb386d9d"},
	{1, "1.2.3.4", "5.6.7.8", 11, 0, "1:f/YiSyWqczrTgfUCZlBUnvHRcPk=", "1:1DD7cWGC/Yg91YGsQeni8du3pIA=", "7ff6224b25aa733ad381f5026650549ef1d170f9"},
	// ICMPv6 echo request and response; unidirectional type 146.
	{58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 128, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=", "1:IO27GQzPuCtNnwFvjWALMHu5tJE=", "d1b7fb872309530b777cc103ef3f0b21f46905ea"},
	{58, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", 129, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=", "1:IO27GQzPuCtNnwFvjWALMHu5tJE=", "d1b7fb872309530b777cc103ef3f0b21f46905ea"},
	{58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 146, 0, "1:fYC8+pz24E+EhANP1EZhpX0Dw10=", "1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s=", "7d80bcfa9cf6e04f8484034fd44661a57d03c35d"},
	// Port-less but bidirectional protocol (RSVP), IPv4 and IPv6.
	{46, "1.2.3.4", "5.6.7.8", 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768=", "1:/buhqeOmaRCopOZFy9HnoJd5XW8=", "8a4bf79267fcf65b9fef758fcf58ceb38f52efaf"},
	{46, "5.6.7.8", "1.2.3.4", 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768=", "1:/buhqeOmaRCopOZFy9HnoJd5XW8=", "8a4bf79267fcf65b9fef758fcf58ceb38f52efaf"},
	{46, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 0, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=", "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=", "c10ff69b0ae75cfe259897077462f978f8d1f9ed"},
	{46, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", 0, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=", "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=", "c10ff69b0ae75cfe259897077462f978f8d1f9ed"},
}

var communityIDPcapVectors = []communityIDVector{
	{58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=", "7461f21af8cc7e58e0e81a69c26ddb8342cef136"},
	{58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=", "7461f21af8cc7e58e0e81a69c26ddb8342cef136"},
	{58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136, "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=", "cdabf24ff71ecd0af57e6226602c189cc5db81c9"},
	{58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 135, "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=", "cdabf24ff71ecd0af57e6226602c189cc5db81c9"},
	{58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0, "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=", "1:lVEtCZpYu84Xqaa++3lXFyuu2n4=", "d8e6d5060227dbca19be26d866164c06087b59d4"},
	{58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4, "1:hLZd0XGWojozrvxqE0dWB1iM6R0=", "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8=", "84b65dd17196a23a33aefc6a13475607588ce91d"},
	{58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 129, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=", "f935be1ed2c7bd5d719c6855d65bfb5e826ba908"},
	{58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 128, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=", "f935be1ed2c7bd5d719c6855d65bfb5e826ba908"},
	{58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8=", "84efac3781fe306e4c63ff2122b5cfa9ce19433d"},
	{58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 133, "1:pkvHqCL88/tg1k4cPigmZXUtL00=", "1:K/ee5UCqAMAQXDorP5nSa2CGLjc=", "a64bc7a822fcf3fb60d64e1c3e282665752d2f4d"},
	{1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA=", "5f4b27617a60c22bfd4d9b6a83ae2c833527e839"},
	{1, "192.168.0.1", "192.168.0.89", 0, 8, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA=", "5f4b27617a60c22bfd4d9b6a83ae2c833527e839"},
	{1, "10.0.0.1", "10.0.0.2", 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM=", "1:XjUibYHaafLQ3pxQeiMI8g25q20=", "607c6d022ac21bfff43b391c540ba4a8a40df713"},
	{6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=", "fea15a78047e8057b52988cccd50ec32ffb0814e"},
	{6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=", "fea15a78047e8057b52988cccd50ec32ffb0814e"},
	{132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=", "30fd84b5108050866f4f0e8cc491cb57b37b243b"},
	{132, "192.168.170.56", "192.168.170.8", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=", "30fd84b5108050866f4f0e8cc491cb57b37b243b"},
	{6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc=", "2d053da9994af81e45dca0e67afea6e4f3226eb8"},
	{6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc=", "2d053da9994af81e45dca0e67afea6e4f3226eb8"},
	{17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=", "77f14fe445b7c22635bc29dd87095e451287a304"},
	{17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=", "77f14fe445b7c22635bc29dd87095e451287a304"},
	{46, "10.1.12.1", "10.1.12.2", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI=", "28794b920a095bb89f513c934a0c957e4147ccac"},
	{46, "10.1.12.2", "10.1.12.1", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI=", "28794b920a095bb89f513c934a0c957e4147ccac"},
}

// communityIDAddr parses s and returns its 4- or 16-byte network-order form.
func communityIDAddr(t testing.TB, s string) []byte {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatalf("ParseAddr(%q): %v", s, err)
	}
	return a.AsSlice()
}

func (v communityIDVector) name() string {
	return fmt.Sprintf("proto%d/%s_%d/%s_%d", v.proto, v.src, v.sport, v.dst, v.dport)
}

func TestCommunityIDPublishedVectors(t *testing.T) {
	for _, set := range []struct {
		name    string
		vectors []communityIDVector
	}{
		{"readme", communityIDReadmeVectors},
		{"pcap", communityIDPcapVectors},
	} {
		for _, v := range set.vectors {
			t.Run(set.name+"/"+v.name(), func(t *testing.T) {
				src, dst := communityIDAddr(t, v.src), communityIDAddr(t, v.dst)

				// The three published columns must agree with each other;
				// this guards the table against transcription errors.
				raw, err := hex.DecodeString(v.hx)
				if err != nil || len(raw) != sha1.Size {
					t.Fatalf("bad hex vector %q: %v", v.hx, err)
				}
				if diff := cmp.Diff("1:"+base64.StdEncoding.EncodeToString(raw), v.seed0); diff != "" {
					t.Fatalf("published hex and base64 columns disagree (-hex, +base64):\n%s", diff)
				}

				got := CommunityID(0, v.proto, src, dst, v.sport, v.dport)
				if diff := cmp.Diff(got, v.seed0); diff != "" {
					t.Errorf("CommunityID(seed 0) (-got, +want):\n%s", diff)
				}
				got = CommunityID(1, v.proto, src, dst, v.sport, v.dport)
				if diff := cmp.Diff(got, v.seed1); diff != "" {
					t.Errorf("CommunityID(seed 1) (-got, +want):\n%s", diff)
				}
				sum := communityIDSum(0, v.proto, src, dst, v.sport, v.dport)
				if diff := cmp.Diff(hex.EncodeToString(sum[:]), v.hx); diff != "" {
					t.Errorf("communityIDSum(seed 0) (-got, +want):\n%s", diff)
				}
				prefix := []byte("flow=")
				app := AppendCommunityID(prefix, 0, v.proto, src, dst, v.sport, v.dport)
				if diff := cmp.Diff(string(app), "flow="+v.seed0); diff != "" {
					t.Errorf("AppendCommunityID (-got, +want):\n%s", diff)
				}
			})
		}
	}
}

// TestCommunityIDReversed checks that every published two-way flow gets the
// same ID when seen from the other endpoint. For two-way ICMP types the
// other direction carries the counterpart type (the reply to the request).
func TestCommunityIDReversed(t *testing.T) {
	vectors := append(append([]communityIDVector(nil), communityIDReadmeVectors...), communityIDPcapVectors...)
	for _, v := range vectors {
		t.Run(v.name(), func(t *testing.T) {
			src, dst := communityIDAddr(t, v.src), communityIDAddr(t, v.dst)
			rsport, rdport := v.dport, v.sport
			if v.proto == 1 || v.proto == 58 {
				peer, ok := communityIDICMPCounterpart(v.proto, v.sport)
				if !ok {
					// One-way: direction is part of the ID.
					fwd := CommunityID(0, v.proto, src, dst, v.sport, v.dport)
					rev := CommunityID(0, v.proto, dst, src, v.sport, v.dport)
					if fwd == rev {
						t.Errorf("one-way ICMP type %d: reversed endpoints gave the same ID %s", v.sport, fwd)
					}
					return
				}
				rsport, rdport = peer, 0
			}
			for _, seed := range []uint16{0, 1, 0xbeef} {
				fwd := CommunityID(seed, v.proto, src, dst, v.sport, v.dport)
				rev := CommunityID(seed, v.proto, dst, src, rsport, rdport)
				if diff := cmp.Diff(rev, fwd); diff != "" {
					t.Errorf("seed %d: reversed CommunityID (-got, +want):\n%s", seed, diff)
				}
			}
		})
	}
}

func TestCommunityIDSemantics(t *testing.T) {
	v4a, v4b := []byte{10, 0, 0, 1}, []byte{127, 0, 0, 1}
	v6a := communityIDAddr(t, "2001:db8::1")
	v6b := communityIDAddr(t, "2001:db8::2")
	tests := []struct {
		name string
		a, b func() string
		same bool
	}{{
		// The spec's README example: both orient to 10.0.0.1, 127.0.0.1, 1234, 80.
		name: "spec ordering example",
		a:    func() string { return CommunityID(0, 6, v4a, v4b, 1234, 80) },
		b:    func() string { return CommunityID(0, 6, v4b, v4a, 80, 1234) },
		same: true,
	}, {
		name: "equal addresses ordered by port",
		a:    func() string { return CommunityID(0, 17, v4a, v4a, 5353, 53) },
		b:    func() string { return CommunityID(0, 17, v4a, v4a, 53, 5353) },
		same: true,
	}, {
		name: "ports matter for TCP",
		a:    func() string { return CommunityID(0, 6, v6a, v6b, 1, 2) },
		b:    func() string { return CommunityID(0, 6, v6a, v6b, 1, 3) },
		same: false,
	}, {
		name: "ports ignored for other protocols",
		a:    func() string { return CommunityID(0, 47, v6a, v6b, 1, 2) },
		b:    func() string { return CommunityID(0, 47, v6a, v6b, 0, 0) },
		same: true,
	}, {
		name: "protocol matters",
		a:    func() string { return CommunityID(0, 6, v4a, v4b, 1, 2) },
		b:    func() string { return CommunityID(0, 17, v4a, v4b, 1, 2) },
		same: false,
	}, {
		name: "seed matters",
		a:    func() string { return CommunityID(0, 6, v4a, v4b, 1, 2) },
		b:    func() string { return CommunityID(2, 6, v4a, v4b, 1, 2) },
		same: false,
	}, {
		name: "ICMP two-way ignores code",
		a:    func() string { return CommunityID(0, 1, v4a, v4b, 13, 0) },
		b:    func() string { return CommunityID(0, 1, v4b, v4a, 14, 7) },
		same: true,
	}, {
		name: "ICMP one-way hashes code",
		a:    func() string { return CommunityID(0, 1, v4a, v4b, 3, 1) },
		b:    func() string { return CommunityID(0, 1, v4a, v4b, 3, 3) },
		same: false,
	}, {
		name: "ICMP one-way keeps direction even when src is larger",
		a:    func() string { return CommunityID(0, 1, v4b, v4a, 3, 1) },
		b:    func() string { return CommunityID(0, 1, v4a, v4b, 3, 1) },
		same: false,
	}, {
		// Swapping would make these equal; the spec keeps one-way messages apart.
		name: "ICMP one-way with type equal to code is not merged across directions",
		a:    func() string { return CommunityID(0, 1, v4a, v4b, 3, 3) },
		b:    func() string { return CommunityID(0, 1, v4b, v4a, 3, 3) },
		same: false,
	}, {
		name: "ICMPv6 neighbor solicitation and advertisement",
		a:    func() string { return CommunityID(0, 58, v6a, v6b, 135, 0) },
		b:    func() string { return CommunityID(0, 58, v6b, v6a, 136, 0) },
		same: true,
	}, {
		name: "ICMPv6 MLD query and report",
		a:    func() string { return CommunityID(0, 58, v6a, v6b, 130, 0) },
		b:    func() string { return CommunityID(0, 58, v6b, v6a, 131, 0) },
		same: true,
	}, {
		name: "ICMPv4 table does not apply to ICMPv6",
		a:    func() string { return CommunityID(0, 58, v6a, v6b, 8, 0) },
		b:    func() string { return CommunityID(0, 58, v6b, v6a, 0, 0) },
		same: false,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := tt.a(), tt.b()
			if (a == b) != tt.same {
				t.Errorf("got %s and %s; want same=%v", a, b, tt.same)
			}
		})
	}
}

func TestCommunityIDICMPCounterpart(t *testing.T) {
	// Pairs from the spec's ICMP/ICMPv6 tables (after Zeek).
	pairs := map[uint8][][2]uint16{
		1:  {{8, 0}, {13, 14}, {15, 16}, {10, 9}, {17, 18}},
		58: {{128, 129}, {130, 131}, {133, 134}, {135, 136}, {139, 140}, {144, 145}},
	}
	want := map[[2]uint16]uint16{} // (proto, type) -> counterpart
	for proto, ps := range pairs {
		for _, p := range ps {
			want[[2]uint16{uint16(proto), p[0]}] = p[1]
			want[[2]uint16{uint16(proto), p[1]}] = p[0]
		}
	}
	for _, proto := range []uint8{1, 6, 17, 58, 132} {
		for typ := range uint16(300) {
			peer, ok := communityIDICMPCounterpart(proto, typ)
			w, wok := want[[2]uint16{uint16(proto), typ}]
			if ok != wok || peer != w {
				t.Errorf("communityIDICMPCounterpart(%d, %d) = %d, %v; want %d, %v", proto, typ, peer, ok, w, wok)
			}
		}
	}
}

// TestCommunityIDHashInput pins the exact byte layout hashed, following the
// spec's pseudo code: seed . saddr . daddr . proto . 0 [. sport . dport].
func TestCommunityIDHashInput(t *testing.T) {
	tests := []struct {
		name         string
		seed         uint16
		proto        uint8
		src, dst     string
		sport, dport uint16
		input        string // hex
	}{{
		name: "tcp4 already ordered",
		seed: 0, proto: 6, src: "10.0.0.1", dst: "127.0.0.1", sport: 1234, dport: 80,
		input: "0000" + "0a000001" + "7f000001" + "06" + "00" + "04d2" + "0050",
	}, {
		name: "tcp4 swapped",
		seed: 0, proto: 6, src: "127.0.0.1", dst: "10.0.0.1", sport: 80, dport: 1234,
		input: "0000" + "0a000001" + "7f000001" + "06" + "00" + "04d2" + "0050",
	}, {
		name: "udp4 equal addresses, swapped by port, seed in network order",
		seed: 0x0102, proto: 17, src: "10.0.0.1", dst: "10.0.0.1", sport: 53, dport: 52,
		input: "0102" + "0a000001" + "0a000001" + "11" + "00" + "0034" + "0035",
	}, {
		name: "icmp4 echo reply maps to (reply, request) and swaps",
		seed: 0, proto: 1, src: "5.6.7.8", dst: "1.2.3.4", sport: 0, dport: 9,
		input: "0000" + "01020304" + "05060708" + "01" + "00" + "0008" + "0000",
	}, {
		name: "icmp4 one-way keeps direction and code",
		seed: 0, proto: 1, src: "5.6.7.8", dst: "1.2.3.4", sport: 3, dport: 1,
		input: "0000" + "05060708" + "01020304" + "01" + "00" + "0003" + "0001",
	}, {
		name: "icmp6 one-way keeps direction",
		seed: 0, proto: 58, src: "ff02::1", dst: "fe80::1", sport: 143, dport: 0,
		input: "0000" + "ff020000000000000000000000000001" + "fe800000000000000000000000000001" + "3a" + "00" + "008f" + "0000",
	}, {
		name: "sctp6",
		seed: 1, proto: 132, src: "2001:db8::2", dst: "2001:db8::1", sport: 7, dport: 7,
		input: "0001" + "20010db8000000000000000000000001" + "20010db8000000000000000000000002" + "84" + "00" + "0007" + "0007",
	}, {
		name: "port-less, ports ignored",
		seed: 0, proto: 47, src: "1.2.3.4", dst: "1.2.3.3", sport: 1, dport: 2,
		input: "0000" + "01020303" + "01020304" + "2f" + "00",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := hex.DecodeString(tt.input)
			if err != nil {
				t.Fatal(err)
			}
			if len(in)%4 != 0 {
				t.Fatalf("hash input %d bytes, not 32-bit aligned", len(in))
			}
			want := sha1.Sum(in)
			got := communityIDSum(tt.seed, tt.proto, communityIDAddr(t, tt.src), communityIDAddr(t, tt.dst), tt.sport, tt.dport)
			if diff := cmp.Diff(hex.EncodeToString(got[:]), hex.EncodeToString(want[:])); diff != "" {
				t.Errorf("communityIDSum (-got, +want):\n%s", diff)
			}
		})
	}
}

// TestCommunityIDInvalidAddressLength pins the documented behaviour for
// addresses that are neither 4 nor 16 bytes: they are hashed as given.
func TestCommunityIDInvalidAddressLength(t *testing.T) {
	long := make([]byte, 40)
	for i := range long {
		long[i] = byte(i)
	}
	tests := []struct {
		name     string
		src, dst []byte
	}{
		{"nil", nil, nil},
		{"empty and v4", []byte{}, []byte{1, 2, 3, 4}},
		{"odd lengths", []byte{9, 9, 9}, []byte{1, 2, 3, 4, 5}},
		{"longer than IPv6", long, long[:17]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The reference input, built by hand: tt.src sorts first or is equal.
			lo, hi := tt.src, tt.dst
			if string(lo) > string(hi) {
				lo, hi = hi, lo
			}
			in := []byte{0x12, 0x34}
			in = append(in, lo...)
			in = append(in, hi...)
			in = append(in, 6, 0, 0x01, 0xbb, 0x01, 0xbb)
			sum := sha1.Sum(in)
			want := "1:" + base64.StdEncoding.EncodeToString(sum[:])

			if diff := cmp.Diff(CommunityID(0x1234, 6, tt.src, tt.dst, 443, 443), want); diff != "" {
				t.Errorf("CommunityID (-got, +want):\n%s", diff)
			}
			if diff := cmp.Diff(CommunityID(0x1234, 6, tt.dst, tt.src, 443, 443), want); diff != "" {
				t.Errorf("reversed CommunityID (-got, +want):\n%s", diff)
			}
		})
	}
}

func TestCommunityIDDoesNotAlloc(t *testing.T) {
	v4a, v4b := []byte{192, 168, 1, 52}, []byte{8, 8, 8, 8}
	v6a := communityIDAddr(t, "2001:470:e5bf:dead:4957:2174:e82c:4887")
	v6b := communityIDAddr(t, "2607:f8b0:400c:c03::1a")
	tests := []struct {
		name         string
		proto        uint8
		src, dst     []byte
		sport, dport uint16
	}{
		{"udp4", 17, v4a, v4b, 54585, 53},
		{"tcp6", 6, v6b, v6a, 25, 63943},
		{"icmp4 one-way", 1, v4a, v4b, 3, 3},
		{"icmp6 two-way", 58, v6a, v6b, 129, 0},
		{"port-less", 46, v4b, v4a, 0, 0},
	}
	buf := make([]byte, 0, 64)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out []byte
			allocs := testing.AllocsPerRun(100, func() {
				out = AppendCommunityID(buf[:0], 7, tt.proto, tt.src, tt.dst, tt.sport, tt.dport)
			})
			if allocs != 0 {
				t.Errorf("AppendCommunityID allocated %v times per run, want 0", allocs)
			}
			if len(out) != communityIDLen {
				t.Errorf("len(AppendCommunityID) = %d, want %d", len(out), communityIDLen)
			}
		})
	}
}
