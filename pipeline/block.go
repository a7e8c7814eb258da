package pipeline

import (
	"net/netip"
	"strings"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/reassembly"
	"github.com/nunchi-sensor/nunchi/rules"
)

// Flow.Marks bits used by the shard.
const markIPChecked = 1 << iota

// checkServerIP matches a new flow's server address against the rules
// (surface ip), once per flow.
func (s *Shard) checkServerIP(f *reassembly.Flow) {
	if f.Marks&markIPChecked != 0 {
		return
	}
	f.Marks |= markIPChecked
	set := s.rules.Load()
	if set == nil {
		return
	}
	addr, _ := f.Server()
	ip := addr.Netip()
	if m, ok := set.MatchIP(ip); ok {
		var cid string
		if f.App != 0 {
			cid = s.apps[f.App].cid
		}
		s.emitBlock(f, cid, rules.SurfaceIP, ip.String(), m, f.First)
	}
}

// checkNames matches the names an application event reveals: each
// (surface, name) is looked up once per flow.
func (s *Shard) checkNames(e *detect.Event, a *appState, f *reassembly.Flow) {
	set := s.rules.Load()
	if set == nil {
		return
	}
	look := func(surf rules.Surface, name string, m rules.Match, ok bool) {
		if ok {
			s.emitBlock(f, e.CommunityID, surf, name, m, e.Timestamp)
		}
	}
	switch {
	case e.HTTP != nil:
		// Each distinct URL is matched once per flow (URL entries), and a
		// host entry is reported once per flow whatever the URLs.
		h := e.HTTP
		if h.Hostname == "" || !a.firstLook(rules.SurfaceHTTPURL, h.Hostname+h.URL) {
			return
		}
		m, ok := set.MatchURL(h.Hostname, h.URL)
		if ok && strings.Contains(m.Pattern, "/") {
			look(rules.SurfaceHTTPURL, h.Hostname+rules.URLPath(h.URL), m, true)
			return
		}
		if ok && a.firstLook(rules.SurfaceHTTPHost, h.Hostname) {
			look(rules.SurfaceHTTPHost, h.Hostname, m, true)
		}
	case e.TLS != nil:
		if n := e.TLS.SNI; n != "" && a.firstLook(rules.SurfaceTLSSNI, n) {
			m, ok := set.MatchName(n)
			look(rules.SurfaceTLSSNI, n, m, ok)
		}
	case e.QUIC != nil:
		if n := e.QUIC.SNI; n != "" && a.firstLook(rules.SurfaceQUICSNI, n) {
			m, ok := set.MatchName(n)
			look(rules.SurfaceQUICSNI, n, m, ok)
		}
	case e.DNS != nil:
		d := e.DNS
		if d.RRName != "" && a.firstLook(rules.SurfaceDNSQuery, d.RRName) {
			m, ok := set.MatchName(d.RRName)
			look(rules.SurfaceDNSQuery, d.RRName, m, ok)
		} else if d.RRName != "" && d.Type == "query" && s.inj != nil {
			// The same name again in this flow (a stub resolver reusing its
			// port): reported once, but every query is a new race.
			if m, ok := set.MatchName(d.RRName); ok && m.Action == rules.ActionInject {
				s.tryInject(f, e.CommunityID, rules.SurfaceDNSQuery, d.RRName, e.Timestamp)
			}
		}
		for i := range d.Answers {
			an := &d.Answers[i]
			if an.RRType != "A" && an.RRType != "AAAA" {
				continue
			}
			ip, err := netip.ParseAddr(an.RData)
			if err != nil || !a.firstLook(rules.SurfaceDNSAnswer, an.RData) {
				continue
			}
			m, ok := set.MatchIP(ip)
			look(rules.SurfaceDNSAnswer, an.RData, m, ok)
		}
	}
}

// firstLook reports whether (surface, name) has not been looked up for this
// flow yet, and remembers it (a small bounded set: a keep-alive session
// asking for the same host again costs nothing).
func (a *appState) firstLook(surf rules.Surface, name string) bool {
	for _, l := range a.looked {
		if l.surf == surf && l.name == name {
			return false
		}
	}
	if len(a.looked) < 16 {
		a.looked = append(a.looked, lookup{surf, name})
	}
	return true
}

type lookup struct {
	surf rules.Surface
	name string
}

// emitBlock queues a block event with the flow's context.
func (s *Shard) emitBlock(f *reassembly.Flow, cid string, surf rules.Surface, name string, m rules.Match, ts int64) {
	e := &detect.Event{Type: detect.TypeBlock, Timestamp: ts}
	s.fillContext(e, f, cid)
	if f.App != 0 {
		e.AppProto = s.apps[f.App].proto
	}
	e.Block = &detect.Block{Surface: surf.String(), Name: name, RuleID: m.RuleID, List: m.List,
		ListVersion: m.ListVersion, Matched: m.Pattern, Action: m.Action.String()}
	s.emit(e, evBlock)
	if m.Action == rules.ActionInject && s.inj != nil {
		s.tryInject(f, e.CommunityID, surf, name, ts)
	}
}
