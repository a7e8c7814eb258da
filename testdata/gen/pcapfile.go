package main

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// start is the timestamp of the first packet of every capture.
var start = time.Date(2026, time.November, 21, 10, 0, 0, 0, time.UTC)

// snaplen is the snapshot length written in pcap file headers.
const snaplen = 262144

// record is one packet record of a capture file.
type record struct {
	ts      time.Time
	data    []byte
	origLen int // wire length; 0 means len(data)
	ifIndex int // pcapng interface; 0 for pcap
}

func (r record) captureInfo() gopacket.CaptureInfo {
	l := r.origLen
	if l == 0 {
		l = len(r.data)
	}
	return gopacket.CaptureInfo{Timestamp: r.ts, CaptureLength: len(r.data), Length: l, InterfaceIndex: r.ifIndex}
}

var serializeOpts = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}

// serialize writes ls into a fresh buffer (fresh so that padding a layer does
// not write is zero, which keeps the output deterministic).
func serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, serializeOpts, ls...); err != nil {
		panic(err)
	}
	return bytes.Clone(buf.Bytes())
}

// encap puts link and tunnel headers around a conversation packet and
// returns the whole frame's layers, outermost first.
type encap func(p pkt) []gopacket.SerializableLayer

// frames serializes pkts through e. The records get their timestamps from
// timeline.
func frames(pkts []pkt, e encap) []record {
	out := make([]record, len(pkts))
	for i, p := range pkts {
		out[i] = record{data: serialize(e(p)...)}
	}
	return out
}

// timeline joins parts one after the other and stamps every record step
// apart, the first at start.
func timeline(step time.Duration, parts ...[]record) []record {
	var out []record
	for _, p := range parts {
		out = append(out, p...)
	}
	for i := range out {
		out[i].ts = start.Add(time.Duration(i) * step)
	}
	return out
}

// defaultStep is the time between two packets of a generated capture.
const defaultStep = time.Millisecond

// pcapLE writes a little-endian pcap file with pcapgo, with microsecond or
// nanosecond timestamps.
func pcapLE(lt layers.LinkType, nanos bool, recs []record) ([]byte, error) {
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	if nanos {
		w = pcapgo.NewWriterNanos(&b)
	}
	if err := w.WriteFileHeader(snaplen, lt); err != nil {
		return nil, err
	}
	for _, r := range recs {
		if err := w.WritePacket(r.captureInfo(), r.data); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// pcapBE writes a pcap file whose headers are big-endian, as written by a
// big-endian host (the magic reads a1 b2 c3 d4 on disk). pcapgo only writes
// little-endian files.
func pcapBE(lt layers.LinkType, recs []record) []byte {
	be := binary.BigEndian
	b := make([]byte, 24)
	be.PutUint32(b[0:], 0xa1b2c3d4)
	be.PutUint16(b[4:], 2)
	be.PutUint16(b[6:], 4)
	// thiszone and sigfigs stay 0.
	be.PutUint32(b[16:], snaplen)
	be.PutUint32(b[20:], uint32(lt))
	for _, r := range recs {
		ci := r.captureInfo()
		var h [16]byte
		be.PutUint32(h[0:], uint32(ci.Timestamp.Unix()))
		be.PutUint32(h[4:], uint32(ci.Timestamp.Nanosecond()/1000))
		be.PutUint32(h[8:], uint32(ci.CaptureLength))
		be.PutUint32(h[12:], uint32(ci.Length))
		b = append(b, h[:]...)
		b = append(b, r.data...)
	}
	return b
}

// ngInterface describes one pcapng Interface Description Block.
type ngInterface struct {
	linkType layers.LinkType
	name     string
	// tsresol is the if_tsresol option value (power of ten); 0 leaves the
	// option out, which means microseconds.
	tsresol uint8
}

// pcapng writes a little-endian pcapng file: one Section Header Block, one
// Interface Description Block per interface and one Enhanced Packet Block
// per record (record.ifIndex picks the interface). pcapgo's NgWriter fixes
// if_tsresol to nanoseconds for every interface and writes the generating
// host's OS and architecture into the section header, so it is not used.
func pcapng(ifaces []ngInterface, recs []record) []byte {
	le := binary.LittleEndian
	var b []byte
	block := func(typ uint32, body []byte) {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		total := uint32(12 + len(body))
		b = le.AppendUint32(b, typ)
		b = le.AppendUint32(b, total)
		b = append(b, body...)
		b = le.AppendUint32(b, total)
	}
	option := func(body []byte, code uint16, value []byte) []byte {
		body = le.AppendUint16(body, code)
		body = le.AppendUint16(body, uint16(len(value)))
		body = append(body, value...)
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		return body
	}
	endOfOptions := func(body []byte) []byte { return le.AppendUint32(body, 0) }

	// Section Header Block.
	shb := le.AppendUint32(nil, 0x1a2b3c4d)             // byte-order magic
	shb = le.AppendUint16(shb, 1)                       // major
	shb = le.AppendUint16(shb, 0)                       // minor
	shb = le.AppendUint64(shb, ^uint64(0))              // section length: unknown
	shb = option(shb, 4, []byte("nunchi testdata/gen")) // shb_userappl
	shb = endOfOptions(shb)
	block(0x0a0d0d0a, shb)

	// Interface Description Blocks.
	for _, ifc := range ifaces {
		idb := le.AppendUint16(nil, uint16(ifc.linkType))
		idb = le.AppendUint16(idb, 0)
		idb = le.AppendUint32(idb, snaplen)
		idb = option(idb, 2, []byte(ifc.name)) // if_name
		if ifc.tsresol != 0 {
			idb = option(idb, 9, []byte{ifc.tsresol}) // if_tsresol
		}
		idb = endOfOptions(idb)
		block(0x00000001, idb)
	}

	// Enhanced Packet Blocks.
	for _, r := range recs {
		ci := r.captureInfo()
		var ts uint64
		switch ifaces[r.ifIndex].tsresol {
		case 0, 6:
			ts = uint64(ci.Timestamp.UnixMicro())
		case 9:
			ts = uint64(ci.Timestamp.UnixNano())
		default:
			panic("unsupported if_tsresol")
		}
		epb := le.AppendUint32(nil, uint32(r.ifIndex))
		epb = le.AppendUint32(epb, uint32(ts>>32))
		epb = le.AppendUint32(epb, uint32(ts))
		epb = le.AppendUint32(epb, uint32(ci.CaptureLength))
		epb = le.AppendUint32(epb, uint32(ci.Length))
		epb = append(epb, r.data...)
		block(0x00000006, epb)
	}
	return b
}
