//go:build !libpcap

package capture

import "errors"

// LibpcapAvailable reports whether this build has the libpcap source.
const LibpcapAvailable = false

func openPcapLive(iface string, spec LiveSpec) ([]LiveSource, error) {
	return nil, errors.New("capture: source pcap needs a build with -tags libpcap (and libpcap-dev); this build has AF_PACKET only")
}
