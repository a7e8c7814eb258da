//go:build !linux

package capture

import "errors"

func openAFPacket(iface string, ifn int, spec LiveSpec) ([]LiveSource, error) {
	return nil, errors.New("capture: AF_PACKET is Linux only; use source: pcap (build with -tags libpcap)")
}
