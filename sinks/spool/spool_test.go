package spool

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func rec(i int) []byte { return []byte(fmt.Sprintf(`{"n":%d,"pad":"%0100d"}`, i, i)) }

func recs(from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = rec(from + i)
	}
	return out
}

func mustOpen(t *testing.T, cfg Config) *Spool {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// drain reads and acknowledges everything, checking that records come in
// order starting at want; it returns the next expected index.
func drain(t *testing.T, s *Spool, want int, batch int) int {
	t.Helper()
	for {
		b, err := s.Read(batch, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Records) == 0 {
			return want
		}
		for _, r := range b.Records {
			if string(r) != string(rec(want)) {
				t.Fatalf("record %q, want %q", r, rec(want))
			}
			want++
		}
		if err := s.Ack(b); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAppendReadAckInOrderAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, Config{Dir: dir, MaxBytes: 1 << 20, SegmentBytes: 4096})
	for i := 0; i < 100; i++ {
		if n, err := s.Append(recs(i*10, 10)); n != 10 || err != nil {
			t.Fatalf("append: %d, %v", n, err)
		}
	}
	if s.Len() != 1000 || s.Stats().Segments < 10 {
		t.Fatalf("stats %+v", s.Stats())
	}
	// Reading without Ack returns the same records (a retry).
	b1, _ := s.Read(7, 1<<20)
	b2, _ := s.Read(7, 1<<20)
	if len(b1.Records) != 7 || string(b1.Records[6]) != string(b2.Records[6]) {
		t.Fatal("re-read differs")
	}
	if next := drain(t, s, 0, 33); next != 1000 {
		t.Fatalf("drained %d", next)
	}
	st := s.Stats()
	if st.Records != 0 || st.Segments != 1 || st.Bytes != headerLen || st.Acked != 1000 {
		t.Errorf("after drain: %+v", st)
	}
	// Appending after a drain works and the files on disk are one segment.
	s.Append(recs(1000, 5))
	if next := drain(t, s, 1000, 2); next != 1005 {
		t.Fatal(next)
	}
	s.Close()
	m, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(m) != 1 {
		t.Errorf("segments left: %v", m)
	}
}

func TestByteBudgetReturnsAtLeastOneRecord(t *testing.T) {
	s := mustOpen(t, Config{Dir: t.TempDir()})
	defer s.Close()
	big := make([]byte, 100_000)
	s.Append([][]byte{big, rec(1), rec(2)})
	b, _ := s.Read(10, 1000)
	if len(b.Records) != 1 || len(b.Records[0]) != len(big) {
		t.Fatalf("got %d records", len(b.Records))
	}
	s.Ack(b)
	b, _ = s.Read(10, 1000)
	if len(b.Records) != 2 {
		t.Fatalf("got %d records", len(b.Records))
	}
}

func TestRestartResumesAtReadPosition(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, MaxBytes: 1 << 20, SegmentBytes: 2048}
	s := mustOpen(t, cfg)
	s.Append(recs(0, 100))
	b, _ := s.Read(40, 1<<20)
	s.Ack(b)
	if _, err := Open(cfg); err == nil {
		t.Fatal("a second Open of a spool in use succeeded")
	}
	s.Close()
	s = mustOpen(t, cfg)
	if st := s.Stats(); st.Recovered != 60 || st.Records != 60 {
		t.Fatalf("after restart: %+v", st)
	}
	s.Append(recs(100, 10))
	if next := drain(t, s, 40, 9); next != 110 {
		t.Fatal(next)
	}
	s.Close()

	// A damaged position file restarts at the oldest segment: duplicates,
	// never loss.
	s = mustOpen(t, cfg)
	s.Append(recs(0, 50))
	b, _ = s.Read(20, 1<<20)
	s.Ack(b)
	s.Close()
	os.WriteFile(filepath.Join(dir, posFile), []byte("garbage"), 0o644)
	s = mustOpen(t, cfg)
	defer s.Close()
	b, _ = s.Read(1, 1<<20)
	if len(b.Records) != 1 {
		t.Fatal("nothing to read")
	}
	// The oldest segment may hold acknowledged records; what matters is
	// that record 20 onwards is all there.
	first, _ := strconv.Atoi(string(b.Records[0][5:7]))
	if first > 20 {
		t.Errorf("restart after a lost position begins at %q", b.Records[0])
	}
}

func TestTornLastRecordIsCutAtOpen(t *testing.T) {
	for _, tear := range []struct {
		name string
		mod  func(path string, size int64)
	}{
		{"cut inside the payload", func(p string, size int64) { os.Truncate(p, size-5) }},
		{"cut inside the header", func(p string, size int64) { os.Truncate(p, size-int64(len(rec(9)))-3) }},
		{"garbage appended", func(p string, _ int64) {
			f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, 'x'})
			f.Close()
		}},
		{"flipped byte", func(p string, size int64) {
			f, _ := os.OpenFile(p, os.O_RDWR, 0)
			f.WriteAt([]byte{'#'}, size-3)
			f.Close()
		}},
	} {
		t.Run(tear.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, Config{Dir: dir})
			s.Append(recs(0, 10))
			s.Close()
			m, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			fi, _ := os.Stat(m[0])
			tear.mod(m[0], fi.Size())
			s = mustOpen(t, Config{Dir: dir})
			defer s.Close()
			st := s.Stats()
			wantRecs := uint64(9)
			if tear.name == "garbage appended" {
				wantRecs = 10
			}
			if st.TornRecords != 1 || st.TornBytes == 0 || st.Records != wantRecs {
				t.Fatalf("stats %+v", st)
			}
			// The spool keeps working after the cut.
			s.Append(recs(int(wantRecs), 3))
			if next := drain(t, s, 0, 4); next != int(wantRecs)+3 {
				t.Fatal(next)
			}
		})
	}
}

func TestFullAppendsWhatFitsAndCounts(t *testing.T) {
	s := mustOpen(t, Config{Dir: t.TempDir(), MaxBytes: 4096, SegmentBytes: 1024})
	defer s.Close()
	var appended int
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		var n int
		n, err = s.Append(recs(appended, 8))
		appended += n
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("err %v, want ErrFull", err)
	}
	st := s.Stats()
	if st.Bytes > 4096 || st.RefusedFull == 0 || st.Appended != uint64(appended) {
		t.Fatalf("stats %+v, appended %d", st, appended)
	}
	// Draining makes room again.
	if next := drain(t, s, 0, 100); next != appended {
		t.Fatal(next)
	}
	if n, err := s.Append(recs(appended, 3)); n != 3 || err != nil {
		t.Fatalf("after drain: %d %v", n, err)
	}
	if _, err := s.Append([][]byte{make([]byte, 17<<20)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge record: %v", err)
	}
}

func TestDiskFullIsAnErrorNotACrash(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, Config{Dir: dir})
	s.Append(recs(0, 5))
	real := s.writeAt
	s.writeAt = func(f *os.File, b []byte, off int64) (int, error) {
		// Half the bytes reach the file, then the disk is full.
		n, _ := real(f, b[:len(b)/2], off)
		return n, syscall.ENOSPC
	}
	n, err := s.Append(recs(5, 5))
	if n != 0 || !errors.Is(err, ErrWrite) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("n %d err %v", n, err)
	}
	if st := s.Stats(); st.WriteErrors != 5 || st.Records != 5 {
		t.Fatalf("stats %+v", st)
	}
	s.writeAt = real
	s.Append(recs(5, 5))
	s.Close()
	// The half-written batch was cut: a reopen finds nothing torn.
	s = mustOpen(t, Config{Dir: dir})
	defer s.Close()
	if st := s.Stats(); st.TornRecords != 0 || st.Records != 10 {
		t.Fatalf("after reopen %+v", st)
	}
	if next := drain(t, s, 0, 3); next != 10 {
		t.Fatal(next)
	}
}

// TestKilledWriterLeavesAReadableSpool runs an appender in a child process,
// kills it with SIGKILL mid-stream and checks that the spool opens, every
// record in it is whole, and they are 0..n-1 in order.
func TestKilledWriterLeavesAReadableSpool(t *testing.T) {
	if dir := os.Getenv("NUNCHI_TEST_SPOOL_CHILD"); dir != "" {
		s, err := Open(Config{Dir: dir, SegmentBytes: 64 << 10})
		if err != nil {
			os.Exit(3)
		}
		os.WriteFile(filepath.Join(dir, "started"), nil, 0o644)
		for i := 0; ; i += 50 {
			s.Append(recs(i, 50))
		}
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriterLeavesAReadableSpool$")
	cmd.Env = append(os.Environ(), "NUNCHI_TEST_SPOOL_CHILD="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("child did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	s := mustOpen(t, Config{Dir: dir, SegmentBytes: 64 << 10})
	defer s.Close()
	st := s.Stats()
	if st.Records == 0 || st.Recovered != st.Records {
		t.Fatalf("stats %+v", st)
	}
	if next := drain(t, s, 0, 1000); uint64(next) != st.Recovered {
		t.Fatalf("read %d of %d", next, st.Recovered)
	}
	t.Logf("recovered %d records in %d segments, torn %d", st.Recovered, st.Segments, st.TornRecords)
}

// TestByteBudgetNeverSkipsAcrossSegments: a read that stops on its byte
// budget inside one segment must not move on to the next (it would skip the
// rest of the first when acknowledged).
func TestByteBudgetNeverSkipsAcrossSegments(t *testing.T) {
	s := mustOpen(t, Config{Dir: t.TempDir(), SegmentBytes: 8192})
	defer s.Close()
	for i := 0; i < 50; i++ {
		s.Append(recs(i*20, 20))
	}
	if s.Stats().Segments < 10 {
		t.Fatalf("want many segments: %+v", s.Stats())
	}
	want := 0
	for budget := 100; ; budget = budget*3/2 + 7 { // budgets that end at odd places
		b, err := s.Read(1000, budget)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Records) == 0 {
			break
		}
		for _, r := range b.Records {
			if string(r) != string(rec(want)) {
				t.Fatalf("budget %d: record %q, want %q", budget, r, rec(want))
			}
			want++
		}
		s.Ack(b)
		if budget > 20000 {
			budget = 100
		}
	}
	if want != 1000 || s.Len() != 0 {
		t.Errorf("read %d of 1000, %d left", want, s.Len())
	}
}
