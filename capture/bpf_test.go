package capture

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
)

func TestParseDDD(t *testing.T) {
	prog, err := parseDDD([]byte("3\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []bpf.RawInstruction{{Op: 40, K: 12}, {Op: 21, Jf: 1, K: 2048}, {Op: 6, K: 262144}}
	if len(prog) != 3 || prog[0] != want[0] || prog[1] != want[1] || prog[2] != want[2] {
		t.Errorf("got %+v", prog)
	}
	for _, bad := range []string{"", "2\n40 0 0 12\n", "1\n40 0 0\n", "1\n40 0 0 x\n", "1\n40 300 0 1\n"} {
		if _, err := parseDDD([]byte(bad)); err == nil {
			t.Errorf("parseDDD(%q) accepted", bad)
		}
	}
}

// TestCompileBPF compiles filters for the loopback interface the way the
// build does (libpcap in-process, or tcpdump), checks the program runs in
// x/net/bpf's VM with the expected verdicts on real frames, and that a
// bad expression is an error that quotes it.
func TestCompileBPF(t *testing.T) {
	if !LibpcapAvailable {
		if _, err := exec.LookPath("tcpdump"); err != nil {
			t.Skip("neither libpcap (-tags libpcap) nor tcpdump")
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("compiling for an interface opens it: needs root")
	}
	prog, err := CompileBPF("lo", "udp port 53", 65535)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(rawToInstructions(t, prog))
	if err != nil {
		t.Fatal(err)
	}
	dns := udpFrameForTest(53)
	other := udpFrameForTest(9)
	if n, _ := vm.Run(dns); n == 0 {
		t.Error("udp port 53 rejected a DNS frame")
	}
	if n, _ := vm.Run(other); n != 0 {
		t.Error("udp port 53 accepted a frame to port 9")
	}
	if p, err := CompileBPF("lo", "", 65535); err != nil || p != nil {
		t.Errorf("empty filter: %v, %v", p, err)
	}
	_, err = CompileBPF("lo", "udp prot 53", 65535)
	if err == nil || !strings.Contains(err.Error(), "udp prot 53") {
		t.Errorf("bad expression: %v", err)
	}
}

func rawToInstructions(t *testing.T, raw []bpf.RawInstruction) []bpf.Instruction {
	out := make([]bpf.Instruction, len(raw))
	for i, r := range raw {
		out[i] = r.Disassemble()
	}
	return out
}

// udpFrameForTest is an Ethernet/IPv4/UDP frame to dport.
func udpFrameForTest(dport uint16) []byte {
	b := make([]byte, 60)
	b[12], b[13] = 0x08, 0x00
	ip := b[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	ip[2], ip[3] = 0, 46
	copy(ip[12:], []byte{192, 0, 2, 1})
	copy(ip[16:], []byte{192, 0, 2, 2})
	b[34], b[35] = 0x9c, 0x40
	b[36], b[37] = byte(dport>>8), byte(dport)
	b[38], b[39] = 0, 26
	return b
}
