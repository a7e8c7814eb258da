package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nunchi-sensor/nunchi/pipeline"
)

// Source is what the endpoints read: the pipeline's counters and whether
// it is capturing.
type Source struct {
	Stats func() pipeline.Stats
	Ready func() bool
}

// Handler serves /metrics, /healthz and /readyz (and a small index at /).
func Handler(src Source) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		b := NewBuilder()
		if src.Stats != nil {
			st := src.Stats() // once per scrape
			WriteStats(b, &st)
		}
		ready := src.Ready != nil && src.Ready()
		b.GaugeUint("nunchi_ready", "1 while the pipeline captures or replays (what /readyz answers), else 0.", boolUint(ready))
		WriteRuntime(b)
		b.Gauge("nunchi_metrics_scrape_duration_seconds", "Time this scrape took to gather the counters, in seconds.", time.Since(start).Seconds())
		var buf bytes.Buffer
		if _, err := b.WriteTo(&buf); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		w.Write(buf.Bytes())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if src.Ready != nil && src.Ready() {
			fmt.Fprintln(w, "ready")
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>nunchi</title><h1>nunchi</h1><ul>`+
			`<li><a href="metrics">/metrics</a> Prometheus metrics</li>`+
			`<li><a href="healthz">/healthz</a> liveness</li>`+
			`<li><a href="readyz">/readyz</a> readiness</li></ul>`)
	})
	return mux
}

func boolUint(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// Server is the HTTP server of the endpoints. New is inert; Start binds and
// serves; Stop shuts down.
type Server struct {
	addr string
	src  Source
	log  *slog.Logger

	mu   sync.Mutex
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// New returns a server for addr (host:port; port 0 picks a free one).
func New(addr string, src Source, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{addr: addr, src: src, log: log}
}

// Start binds the address and serves in one goroutine. A bind error (port
// in use, bad address, no permission) is returned here.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("metrics: already started")
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("metrics: listen %s: %w", s.addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           Handler(s.src),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.done = make(chan struct{})
	srv, done := s.srv, s.done
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics server stopped", "err", err)
		}
	}()
	return nil
}

// Addr is the bound address (after Start), e.g. 127.0.0.1:9911.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop stops accepting, lets requests in progress finish until ctx ends,
// then closes every connection, and returns when the serving goroutine has
// ended. Safe to call more than once, and before Start.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, srv.Close())
	}
	<-done
	return err
}
