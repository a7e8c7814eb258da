package inject

import (
	"io"

	"github.com/gopacket/gopacket/pcapgo"
)

func newTestReader(r io.Reader) (*pcapgo.Reader, error) { return pcapgo.NewReader(r) }
