package inject

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is the `inject:` section. Injection is off unless Enabled, and
// only rules whose action is inject trigger it.
type Config struct {
	Enabled bool `yaml:"enabled"`
	// Interface is the TX interface (a SPAN port is often receive-only).
	Interface string `yaml:"interface"`
	// DryRunPcap, when set, writes the packets to this pcap file instead of
	// sending them (Interface may then be empty).
	DryRunPcap string     `yaml:"dry_run_pcap"`
	HTTP       HTTPConfig `yaml:"http"`
	DNS        DNSConfig  `yaml:"dns"`
	// NeverInjectNetworks are CIDRs never injected into (either endpoint).
	NeverInjectNetworks []string `yaml:"never_inject_networks"`
	// MaxPerSecond bounds injections per second, all clients together.
	MaxPerSecond int `yaml:"max_per_second"`
	// PerClientPerSecond bounds injections per second toward one client.
	PerClientPerSecond int `yaml:"per_client_per_second"`
	// MaxPerFlow bounds injections into one TCP connection (DNS queries
	// sharing a UDP flow are each answered, within the rate limits).
	MaxPerFlow int `yaml:"max_per_flow"`
	// RSTCount is how many RSTs go each way for TLS/TCP: the first at the
	// exact expected sequence number (RFC 5961 receivers accept only that),
	// the others spread over the receiver's window.
	RSTCount int `yaml:"rst_count"`
	// NextHopMAC, when set, is the destination MAC of every injected frame
	// (a routed TX port); otherwise frames go to the MAC the observed
	// packet came from (client) or went to (server).
	NextHopMAC string `yaml:"next_hop_mac"`
	// SourceMAC of injected frames; empty = the TX interface's own.
	SourceMAC string `yaml:"source_mac"`
	// ResetServer also resets the server's side of the connection (an RST
	// from the "client"), so its real answer is never sent if the RST is in
	// time. Off: only the client is answered; the server's late answer then
	// crosses the wire, which is how an observer tells a forgery.
	ResetServer bool `yaml:"reset_server"`
	// Window is how long after an injection the flow is watched for the
	// outcome (won/lost), in packet time.
	Window time.Duration `yaml:"window"`
}

// HTTPConfig is the HTTP warning response.
type HTTPConfig struct {
	Mode string `yaml:"mode"` // redirect | page
	// Location of the redirect; {name} is replaced by the blocked name.
	Location string `yaml:"location"`
	// PageFile is an HTML template for mode page; {name} is replaced by the
	// blocked name (HTML-escaped). Empty = a built-in page.
	PageFile string `yaml:"page_file"`
}

// DNSConfig is the spoofed DNS answer.
type DNSConfig struct {
	AnswerIPv4 string `yaml:"answer_ipv4"`
	AnswerIPv6 string `yaml:"answer_ipv6"`
	TTL        int    `yaml:"ttl"`
}

// DefaultConfig returns the defaults (disabled).
func DefaultConfig() Config {
	return Config{
		HTTP:               HTTPConfig{Mode: "redirect", Location: "http://warning.example/?blocked={name}"},
		DNS:                DNSConfig{AnswerIPv4: "192.0.2.80", AnswerIPv6: "2001:db8::80", TTL: 60},
		MaxPerSecond:       100,
		PerClientPerSecond: 10,
		MaxPerFlow:         1,
		RSTCount:           3,
		ResetServer:        true,
		Window:             5 * time.Second,
	}
}

// Validate checks the section. Settings that need the machine (the
// interface exists, the page file reads) are checked by New.
func (c Config) Validate() error {
	var errs []error
	switch c.HTTP.Mode {
	case "redirect":
		if err := checkLocation(c.HTTP.Location); err != nil {
			errs = append(errs, fmt.Errorf("http.location: %w", err))
		}
	case "page":
	default:
		errs = append(errs, fmt.Errorf("http.mode: %q is not one of redirect, page", c.HTTP.Mode))
	}
	for _, a := range []struct {
		k, v string
		v4   bool
	}{{"dns.answer_ipv4", c.DNS.AnswerIPv4, true}, {"dns.answer_ipv6", c.DNS.AnswerIPv6, false}} {
		if a.v == "" {
			continue
		}
		ip, err := netip.ParseAddr(a.v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", a.k, err))
		case ip.Is4() != a.v4:
			errs = append(errs, fmt.Errorf("%s: %s is not an IPv%s address", a.k, a.v, map[bool]string{true: "4", false: "6"}[a.v4]))
		}
	}
	if c.DNS.TTL < 0 || c.DNS.TTL > 1<<31-1 {
		errs = append(errs, fmt.Errorf("dns.ttl: %d out of range", c.DNS.TTL))
	}
	for i, n := range c.NeverInjectNetworks {
		if _, err := netip.ParsePrefix(n); err != nil {
			errs = append(errs, fmt.Errorf("never_inject_networks[%d]: %w", i, err))
		}
	}
	if c.MaxPerSecond < 0 || c.PerClientPerSecond < 0 || c.MaxPerFlow < 0 {
		errs = append(errs, errors.New("max_per_second, per_client_per_second, max_per_flow: must be >= 0"))
	}
	if c.RSTCount < 1 || c.RSTCount > 16 {
		errs = append(errs, fmt.Errorf("rst_count: %d out of range 1..16", c.RSTCount))
	}
	for _, m := range []struct{ k, v string }{{"next_hop_mac", c.NextHopMAC}, {"source_mac", c.SourceMAC}} {
		if m.v != "" {
			if hw, err := net.ParseMAC(m.v); err != nil || len(hw) != 6 {
				errs = append(errs, fmt.Errorf("%s: %q is not a MAC address", m.k, m.v))
			}
		}
	}
	if c.Window <= 0 {
		errs = append(errs, errors.New("window: must be > 0"))
	}
	if c.Enabled && c.Interface == "" && c.DryRunPcap == "" {
		errs = append(errs, errors.New("interface: injection is enabled but no TX interface (or dry_run_pcap) is set"))
	}
	return errors.Join(errs...)
}

func checkLocation(loc string) error {
	if loc == "" {
		return errors.New("empty (mode redirect needs a warning URL)")
	}
	u, err := url.Parse(strings.ReplaceAll(loc, "{name}", "x"))
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", loc)
	}
	if strings.ContainsAny(loc, "\r\n") {
		return errors.New("contains a line break")
	}
	return nil
}

// readPage loads the page template (or the built-in one).
func readPage(path string) (string, error) {
	if path == "" {
		return defaultPage, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("inject: http.page_file: %w", err)
	}
	return string(b), nil
}

const defaultPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Blocked</title></head>
<body><h1>This site is blocked</h1><p>Access to <b>{name}</b> is blocked on this network.</p></body></html>
`
