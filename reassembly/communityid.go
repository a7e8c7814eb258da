package reassembly

// Community ID v1 flow hashing, implemented in-house.
//
// Specification: https://github.com/corelight/community-id-spec (README.md,
// "Pseudo code" and "Technical details"). The hash input is
//
//	seed(2) . saddr(4|16) . daddr(4|16) . proto(1) . 0(1) [. sport(2) . dport(2)]
//
// all in network byte order, with the endpoints ordered so that the smaller
// (address, port) pair comes first, and the result is "1:" + base64(sha1(input)).
//
// Note (2026-11): the hot path may call AppendCommunityID per flow, so it
// builds the hash input in a fixed array on the stack and uses sha1.Sum and
// base64.AppendEncode; it allocates only when it has to grow dst (or, for
// invalid addresses longer than 16 bytes, to grow its input buffer).

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
)

// IP protocol numbers that the Community ID spec hashes with ports.
const (
	communityIDProtoICMP   = 1
	communityIDProtoTCP    = 6
	communityIDProtoUDP    = 17
	communityIDProtoICMPv6 = 58
	communityIDProtoSCTP   = 132
)

// communityIDPrefix is the version prefix of a v1 Community ID.
const communityIDPrefix = "1:"

// communityIDLen is the length in bytes of a v1 Community ID string:
// the prefix plus the padded base64 encoding of a 20-byte SHA-1 digest.
const communityIDLen = len(communityIDPrefix) + (sha1.Size+2)/3*4 // 30

// communityIDMaxInput is the largest hash input for valid (IPv6) addresses.
const communityIDMaxInput = 2 + 16 + 16 + 1 + 1 + 2 + 2 // 40

// AppendCommunityID appends the Community ID v1 string ("1:" + base64(sha1(...))) of the flow to dst.
// srcIP/dstIP are 4-byte (IPv4) or 16-byte (IPv6) slices; proto is the IP protocol number.
// For TCP/UDP/SCTP the ports are the transport ports. For ICMP (1) and ICMPv6 (58) pass srcPort=ICMP type,
// dstPort=ICMP code; the function applies the spec's ICMP/ICMPv6 type/code mapping (one-way vs two-way
// message types, the "is_one_way" handling). For other protocols ports are ignored (not hashed).
// Orientation does not matter: the function orders the endpoints as the spec says.
//
// The appended ID is always 30 bytes long. AppendCommunityID does not
// allocate when cap(dst)-len(dst) >= 30, and keeps no reference to its
// arguments. It does not validate addresses: slices of any other length
// (nil, 3 bytes, a 4-byte and a 16-byte address mixed) are ordered byte-wise
// and hashed as given; it never panics.
//
// ICMP and ICMPv6: for request/response types (echo, timestamp, information,
// router and address mask for ICMP; echo, MLD, router and neighbor discovery,
// who-are-you and home agent address discovery for ICMPv6) the hashed ports
// are (type, counterpart type), so a request and its response share one ID
// and the code is ignored. Every other type (and any "type" above 255) is
// one-way: the ports are (type, code) and the endpoints are hashed in the
// order given, not swapped.
func AppendCommunityID(dst []byte, seed uint16, proto uint8, srcIP, dstIP []byte, srcPort, dstPort uint16) []byte {
	sum := communityIDSum(seed, proto, srcIP, dstIP, srcPort, dstPort)
	dst = append(dst, communityIDPrefix...)
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// CommunityID is the string form (allocates; call it when reporting, not per packet).
func CommunityID(seed uint16, proto uint8, srcIP, dstIP []byte, srcPort, dstPort uint16) string {
	var buf [communityIDLen]byte
	return string(AppendCommunityID(buf[:0], seed, proto, srcIP, dstIP, srcPort, dstPort))
}

// communityIDSum returns the SHA-1 digest behind a Community ID, before the
// base64 rendering (the spec's "--no-base64" form is its hex encoding).
func communityIDSum(seed uint16, proto uint8, srcIP, dstIP []byte, srcPort, dstPort uint16) [sha1.Size]byte {
	hasPorts, oneWay := false, false
	switch proto {
	case communityIDProtoTCP, communityIDProtoUDP, communityIDProtoSCTP:
		hasPorts = true
	case communityIDProtoICMP, communityIDProtoICMPv6:
		hasPorts = true
		if peer, ok := communityIDICMPCounterpart(proto, srcPort); ok {
			dstPort = peer
		} else {
			oneWay = true
		}
	}

	// Put the smaller (address, port) endpoint first. One-way ICMP messages
	// keep their direction. Without ports, equal addresses need no swap.
	if !oneWay {
		c := bytes.Compare(srcIP, dstIP)
		if c > 0 || (c == 0 && hasPorts && srcPort > dstPort) {
			srcIP, dstIP = dstIP, srcIP
			srcPort, dstPort = dstPort, srcPort
		}
	}

	var buf [communityIDMaxInput]byte
	in := binary.BigEndian.AppendUint16(buf[:0], seed)
	in = append(in, srcIP...) // grows onto the heap only for addresses > 16 bytes
	in = append(in, dstIP...)
	in = append(in, proto, 0)
	if hasPorts {
		in = binary.BigEndian.AppendUint16(in, srcPort)
		in = binary.BigEndian.AppendUint16(in, dstPort)
	}
	return sha1.Sum(in)
}

// communityIDICMPCounterpart reports the counterpart of a two-way ICMP
// (proto 1) or ICMPv6 (proto 58) message type, as listed by the Community ID
// spec (after Zeek's ICMP analyzer). ok is false for one-way types and for
// other protocols.
func communityIDICMPCounterpart(proto uint8, typ uint16) (peer uint16, ok bool) {
	switch proto {
	case communityIDProtoICMP:
		switch typ {
		case 8, 0: // echo request / echo reply
			return 8 + 0 - typ, true
		case 10, 9: // router solicitation / router advertisement
			return 10 + 9 - typ, true
		case 13, 14: // timestamp / timestamp reply
			return 13 + 14 - typ, true
		case 15, 16: // information request / reply
			return 15 + 16 - typ, true
		case 17, 18: // address mask request / reply
			return 17 + 18 - typ, true
		}
	case communityIDProtoICMPv6:
		switch typ {
		case 128, 129: // echo request / echo reply
			return 128 + 129 - typ, true
		case 130, 131: // MLD listener query / listener report
			return 130 + 131 - typ, true
		case 133, 134: // router solicitation / router advertisement
			return 133 + 134 - typ, true
		case 135, 136: // neighbor solicitation / neighbor advertisement
			return 135 + 136 - typ, true
		case 139, 140: // node information (who-are-you) query / reply
			return 139 + 140 - typ, true
		case 144, 145: // home agent address discovery request / reply
			return 144 + 145 - typ, true
		}
	}
	return 0, false
}
