package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/net/bpf"
)

// CompileBPF turns a tcpdump filter expression into classic BPF for the
// interface iface (its link type decides the offsets). Builds with
// -tags libpcap compile in-process with libpcap; other builds ask
// tcpdump (`tcpdump -i IFACE -ddd EXPR`, the same libpcap compiler, run
// as a program) so that the default build needs no C toolchain. With
// neither, a filter is refused with an error that says what to install.
func CompileBPF(iface, expr string, snaplen int) ([]bpf.RawInstruction, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	if compileWithLibpcap != nil {
		return compileWithLibpcap(iface, expr, snaplen)
	}
	return compileWithTcpdump(iface, expr, snaplen)
}

// compileWithLibpcap is set by the libpcap build (pcap_live.go).
var compileWithLibpcap func(iface, expr string, snaplen int) ([]bpf.RawInstruction, error)

func compileWithTcpdump(iface, expr string, snaplen int) ([]bpf.RawInstruction, error) {
	path, err := exec.LookPath("tcpdump")
	if err != nil {
		return nil, errors.New("capture: a BPF filter needs libpcap's compiler: install tcpdump (Debian: apt-get install tcpdump) or build with -tags libpcap (needs libpcap-dev)")
	}
	cmd := exec.Command(path, "-i", iface, "-s", strconv.Itoa(snaplen), "-ddd", expr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("capture: bpf %q on %s: %s", expr, iface, msg)
	}
	return parseDDD(out)
}

// parseDDD reads tcpdump -ddd output: a count line, then "code jt jf k"
// per instruction, all decimal.
func parseDDD(out []byte) ([]bpf.RawInstruction, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	var prog []bpf.RawInstruction
	n := -1
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if n < 0 {
			v, err := strconv.Atoi(f[0])
			if err != nil || len(f) != 1 || v < 1 || v > 4096 {
				return nil, fmt.Errorf("capture: unexpected tcpdump -ddd output %q", sc.Text())
			}
			n = v
			continue
		}
		if len(f) != 4 {
			return nil, fmt.Errorf("capture: unexpected tcpdump -ddd line %q", sc.Text())
		}
		var v [4]uint64
		for i := range f {
			x, err := strconv.ParseUint(f[i], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("capture: unexpected tcpdump -ddd line %q", sc.Text())
			}
			v[i] = x
		}
		if v[1] > 255 || v[2] > 255 || v[0] > 0xffff {
			return nil, fmt.Errorf("capture: unexpected tcpdump -ddd line %q", sc.Text())
		}
		prog = append(prog, bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])})
	}
	if n < 0 || len(prog) != n {
		return nil, fmt.Errorf("capture: tcpdump -ddd gave %d instructions, announced %d", len(prog), n)
	}
	return prog, nil
}
