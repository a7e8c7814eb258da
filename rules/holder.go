package rules

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Holder holds the current Set behind an atomic pointer: shards call Load
// for every lookup (one atomic load, no lock) while Reload compiles a new
// Set off to the side and swaps it in. A failed reload keeps the old Set.
type Holder struct {
	cur      atomic.Pointer[Set]
	mu       sync.Mutex // serialises Reload
	reloadOK atomic.Uint64
	reloadKO atomic.Uint64
	hitsMu   sync.Mutex                // guards hits (not mu: a scrape never waits for a reload's compile)
	hits     map[string]*atomic.Uint64 // by list id, over every Set served (metrics.go)
}

// NewHolder returns a Holder serving s (which may be nil: no rules).
func NewHolder(s *Set) *Holder {
	h := &Holder{hits: map[string]*atomic.Uint64{}}
	h.adopt(s)
	h.cur.Store(s)
	return h
}

// Load returns the current Set; it may be nil (matches nothing).
func (h *Holder) Load() *Set { return h.cur.Load() }

// Reload compiles paths and, on success, makes the result current. On
// error the current Set stays and the file:line errors are returned. Readers
// see either the old or the new Set, never a mix.
func (h *Holder) Reload(paths ...string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, err := LoadFiles(paths...)
	if err != nil {
		h.reloadKO.Add(1)
		return err
	}
	h.adopt(s) // before anyone sees s
	h.cur.Store(s)
	h.reloadOK.Add(1)
	return nil
}

// ReloadStats are the reload counters of a Holder.
type ReloadStats struct {
	OK     uint64 // reloads that swapped in a new Set
	Failed uint64 // reloads that kept the old Set
}

// Reloads returns the reload counters.
func (h *Holder) Reloads() ReloadStats {
	return ReloadStats{OK: h.reloadOK.Load(), Failed: h.reloadKO.Load()}
}

// Watch polls, every interval, the size and modification time of every
// file the current Set was read from (the YAML files and the lists they
// name; paths themselves when no Set is loaded) and reloads paths when one
// changed, appeared or vanished. A failed reload is logged and not retried
// until the files change again. Watch returns when ctx is done. It uses no
// inotify: it works the same on every filesystem, at the cost of noticing
// a change up to one interval late.
func (h *Holder) Watch(ctx context.Context, paths []string, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = 5 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	watched := func() []fileStamp {
		if s := h.Load(); s != nil && len(s.files) > 0 {
			return s.files
		}
		out := make([]fileStamp, len(paths))
		for i, p := range paths {
			out[i].path = p
		}
		return out
	}
	var failed []fileStamp // the stamps of a failed attempt
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		want := watched()
		now := restat(want)
		if slices.Equal(now, want) || failed != nil && slices.Equal(now, failed) {
			continue
		}
		start := time.Now()
		if err := h.Reload(paths...); err != nil {
			failed = now
			log.Error("rules reload failed; keeping the current rules", "err", err)
			continue
		}
		failed = nil
		st := h.Load().Stats()
		log.Info("rules reloaded", "names", st.Names, "urls", st.URLs, "cidrs", st.CIDRs,
			"allow", st.Allow, "took", time.Since(start))
	}
}

// restat returns the current stamps of the files in want (zero size and
// time for a file that cannot be read).
func restat(want []fileStamp) []fileStamp {
	out := make([]fileStamp, len(want))
	for i, w := range want {
		out[i].path = w.path
		if fi, err := os.Stat(w.path); err == nil {
			out[i].size, out[i].mod = fi.Size(), fi.ModTime().UnixNano()
		}
	}
	return out
}
