package nat

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/nunchi-sensor/nunchi/capture"
)

// synSig is a p0f-style signature of a TCP SYN: what differs between
// operating systems (and their settings) but not between connections of
// one host. The raw window is left out on purpose: applications that set
// SO_RCVBUF before connect change it, and one host must not look like two.
// The hop count is not part of it either: hosts of one kind behind one
// NAT share a signature whatever their distance (TTL classes count those).
type synSig struct {
	ittl    uint8 // initial TTL guessed from the observed one: 32, 64, 128, 255
	mss     uint16
	wscale  uint8 // 0xff: no window-scale option
	options [8]uint8
}

func synSigOf(p *capture.Packet) synSig {
	it := initialTTL(p.TTL)
	s := synSig{ittl: it, mss: p.TCP.MSS, wscale: 0xff, options: p.TCP.Options}
	if p.TCP.HasWScale {
		s.wscale = p.TCP.WScale
	}
	return s
}

// initialTTL returns the smallest common initial TTL ≥ ttl.
func initialTTL(ttl uint8) uint8 {
	switch {
	case ttl <= 32:
		return 32
	case ttl <= 64:
		return 64
	case ttl <= 128:
		return 128
	}
	return 255
}

// ttlClass is the (initial TTL, hops) pair of a packet's TTL.
func ttlClass(ttl uint8) uint16 {
	it := initialTTL(ttl)
	return uint16(it)<<8 | uint16(it-ttl)
}

// String renders the signature as ittl:mss:wscale:options, options
// named like p0f's layout ("mss,sok,ts,nop,ws").
func (s synSig) String() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(int(s.ittl)))
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(int(s.mss)))
	b.WriteByte(':')
	if s.wscale == 0xff {
		b.WriteByte('*')
	} else {
		b.WriteString(strconv.Itoa(int(s.wscale)))
	}
	b.WriteByte(':')
	for i, k := range s.options {
		if k == 0 {
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		switch k {
		case 1:
			b.WriteString("nop")
		case 2:
			b.WriteString("mss")
		case 3:
			b.WriteString("ws")
		case 4:
			b.WriteString("sok")
		case 5:
			b.WriteString("sack")
		case 8:
			b.WriteString("ts")
		default:
			b.WriteString("?" + strconv.Itoa(int(k)))
		}
	}
	return b.String()
}

func ttlClassString(c uint16) string {
	return strconv.Itoa(int(c>>8)) + "-" + strconv.Itoa(int(c&0xff))
}

// OS families a User-Agent names; 0 = none recognisable (curl, libraries).
const (
	uaNone = iota
	uaWindows
	uaAndroid
	uaIOS
	uaMacOS
	uaChromeOS
	uaLinux
	uaConsole
	numUAFamilies
)

var uaFamilyNames = [numUAFamilies]string{"", "windows", "android", "ios", "macos", "chromeos", "linux", "console"}

// uaFamily classifies a User-Agent by the operating system it names. Order
// matters: Android UAs also say Linux, iOS ones say "like Mac OS X".
func uaFamily(ua string) int {
	switch {
	case strings.Contains(ua, "Windows"):
		if strings.Contains(ua, "Xbox") {
			return uaConsole
		}
		return uaWindows
	case strings.Contains(ua, "Android"):
		return uaAndroid
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"), strings.Contains(ua, "iPod"):
		return uaIOS
	case strings.Contains(ua, "Macintosh"), strings.Contains(ua, "Mac OS X"):
		return uaMacOS
	case strings.Contains(ua, "CrOS"):
		return uaChromeOS
	case strings.Contains(ua, "PlayStation"), strings.Contains(ua, "Nintendo"):
		return uaConsole
	case strings.Contains(ua, "Linux"), strings.Contains(ua, "X11"):
		return uaLinux
	}
	return uaNone
}

// addrOf converts a netip address to the capture form.
func addrOf(a netip.Addr) capture.Addr {
	return capture.Addr(a.Unmap().As16())
}
