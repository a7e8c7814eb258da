// Command gen writes the project's generated test captures.
//
//	go run ./testdata/gen -out testdata/pcap
//
// Every capture is built from fixed addresses, ports, initial sequence numbers
// and timestamps (starting 2026-11-21T10:00:00Z), so running the generator twice
// gives byte-identical files. Packets are serialized with gopacket
// (SerializeLayers with FixLengths and ComputeChecksums); headers that gopacket
// cannot write (enhanced GRE, ERSPAN III, Teredo origin indication, Linux
// cooked headers, BSD loopback) and the file formats that pcapgo cannot write
// the way the tests need (big-endian pcap, pcapng with several interfaces and
// per-interface if_tsresol) are built by hand in this package.
//
// Each file carries at least one complete conversation: a TCP flow is a
// three-way handshake, an HTTP-like request, a response and a FIN teardown
// from both sides; a UDP flow is a DNS query and its answer. The list of
// files and what each holds is in testdata/pcap/README.md.
//
// Addresses come from the documentation ranges only (192.0.2.0/24,
// 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32); nothing is ever sent.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

func main() {
	out := flag.String("out", "testdata/pcap", "directory the captures are written to")
	only := flag.String("only", "", "write only the capture with this file name")
	flag.Parse()

	if err := run(*out, *only); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out, only string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	sort.Strings(names)
	written := 0
	for _, name := range names {
		if only != "" && name != only {
			continue
		}
		data, err := cases[name]()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if len(data) > maxFileSize {
			return fmt.Errorf("%s: %d bytes, more than the %d allowed for a committed capture", name, len(data), maxFileSize)
		}
		if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
			return err
		}
		fmt.Printf("%-24s %6d bytes\n", name, len(data))
		written++
	}
	if written == 0 {
		return fmt.Errorf("no capture named %q", only)
	}
	return nil
}

// maxFileSize is the largest capture the project commits (STYLE.md: ≤ 50 KB).
const maxFileSize = 50 * 1000

// cases maps each output file name to the function that builds its bytes.
var cases = map[string]func() ([]byte, error){
	// Plain Ethernet.
	"eth-tcp.pcap":      caseEthTCP,
	"eth-udp.pcap":      caseEthUDP,
	"eth-ipv6-tcp.pcap": caseEthIPv6TCP,

	// VLAN, MPLS and PPPoE.
	"vlan.pcap":      caseVLAN,
	"qinq-88a8.pcap": caseQinQ88a8,
	"qinq-9100.pcap": caseQinQ9100,
	"mpls.pcap":      caseMPLS,
	"pppoe.pcap":     casePPPoE,

	// Tunnels.
	"gre-ip.pcap":   caseGREIP,
	"gre-pptp.pcap": caseGREPPTP,
	"erspan1.pcap":  caseERSPAN1,
	"erspan2.pcap":  caseERSPAN2,
	"erspan3.pcap":  caseERSPAN3,
	"vxlan.pcap":    caseVXLAN,
	"geneve.pcap":   caseGeneve,
	"teredo.pcap":   caseTeredo,
	"ipip.pcap":     caseIPIP,
	"6in4.pcap":     case6in4,

	// IP features.
	"ipv6-exthdr.pcap":   caseIPv6ExtHdr,
	"frag4.pcap":         caseFrag4,
	"frag6.pcap":         caseFrag6,
	"frag4-overlap.pcap": caseFrag4Overlap,
	"icmp.pcap":          caseICMP,
	"icmp6.pcap":         caseICMP6,
	"sctp.pcap":          caseSCTP,

	// Link types.
	"sll.pcap":  caseSLL,
	"sll2.pcap": caseSLL2,
	"raw.pcap":  caseRaw,
	"null.pcap": caseNull,
	"loop.pcap": caseLoop,

	// File formats.
	"bigendian.pcap":   caseBigEndian,
	"nanosec.pcap":     caseNanosec,
	"multi-if.pcapng":  caseMultiIf,
	"truncated.pcap":   caseTruncated,
	"corrupt-len.pcap": caseCorruptLen,

	// Bad input.
	"unknown-linktype.pcap": caseUnknownLinkType,
	"malformed.pcap":        caseMalformed,
}
