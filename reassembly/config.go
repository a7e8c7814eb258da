package reassembly

import (
	"errors"
	"fmt"
	"time"
)

// Timeouts are flow idle timeouts in packet time, per protocol and state.
type Timeouts struct {
	New         time.Duration `yaml:"new"`         // until both sides are seen / handshake completes
	Established time.Duration `yaml:"established"` // after that
	Closed      time.Duration `yaml:"closed"`      // TCP after FIN both ways or RST
}

// ProtoTimeouts holds the timeouts by protocol, normal and emergency.
type ProtoTimeouts struct {
	TCP   Timeouts `yaml:"tcp"`
	UDP   Timeouts `yaml:"udp"`
	Other Timeouts `yaml:"other"` // ICMP, SCTP, ESP…
}

// FlowConfig is the `flow:` section: flow table bounds and timeouts.
type FlowConfig struct {
	// MaxFlows bounds the flows tracked by one shard (the memcap).
	MaxFlows int `yaml:"max_flows"`
	// EmergencyRecovery: emergency mode ends when the table is back under
	// this percentage of MaxFlows.
	EmergencyRecovery int `yaml:"emergency_recovery"`
	// VLANInKey keys flows on their VLAN IDs as well as the 5-tuple. Off by
	// default: on a SPAN port the two directions of a routed conversation
	// often carry different tags (router on a stick); turn it on where
	// VLANs hold overlapping address spaces.
	VLANInKey bool `yaml:"vlan_in_key"`
	// CommunityIDSeed seeds Community ID v1.
	CommunityIDSeed uint16 `yaml:"community_id_seed"`
	// Timeouts in normal operation.
	Timeouts ProtoTimeouts `yaml:"timeouts"`
	// EmergencyTimeouts apply while the table is full.
	EmergencyTimeouts ProtoTimeouts `yaml:"emergency_timeouts"`
}

// DefaultFlowConfig returns defaults in the spirit of Suricata's
// flow-timeouts (tcp 60/600/60 s, udp 30/300 s, emergency 10/100 s).
func DefaultFlowConfig() FlowConfig {
	return FlowConfig{
		MaxFlows:          1 << 20,
		EmergencyRecovery: 70,
		VLANInKey:         false,
		Timeouts: ProtoTimeouts{
			TCP:   Timeouts{New: 60 * time.Second, Established: 600 * time.Second, Closed: 60 * time.Second},
			UDP:   Timeouts{New: 30 * time.Second, Established: 300 * time.Second, Closed: 30 * time.Second},
			Other: Timeouts{New: 30 * time.Second, Established: 300 * time.Second, Closed: 30 * time.Second},
		},
		EmergencyTimeouts: ProtoTimeouts{
			TCP:   Timeouts{New: 10 * time.Second, Established: 100 * time.Second, Closed: 5 * time.Second},
			UDP:   Timeouts{New: 10 * time.Second, Established: 100 * time.Second, Closed: 5 * time.Second},
			Other: Timeouts{New: 10 * time.Second, Established: 100 * time.Second, Closed: 5 * time.Second},
		},
	}
}

// Validate checks the section.
func (c FlowConfig) Validate() error {
	var errs []error
	if c.MaxFlows < 16 {
		errs = append(errs, fmt.Errorf("max_flows: must be >= 16, got %d", c.MaxFlows))
	}
	if c.EmergencyRecovery < 1 || c.EmergencyRecovery > 99 {
		errs = append(errs, fmt.Errorf("emergency_recovery: must be 1..99 (percent), got %d", c.EmergencyRecovery))
	}
	check := func(name string, t ProtoTimeouts) {
		for _, p := range []struct {
			n string
			t Timeouts
		}{{"tcp", t.TCP}, {"udp", t.UDP}, {"other", t.Other}} {
			if p.t.New <= 0 || p.t.Established <= 0 || p.t.Closed <= 0 {
				errs = append(errs, fmt.Errorf("%s.%s: timeouts must be > 0", name, p.n))
			}
		}
	}
	check("timeouts", c.Timeouts)
	check("emergency_timeouts", c.EmergencyTimeouts)
	return errors.Join(errs...)
}
