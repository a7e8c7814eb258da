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

// mountTmpfs mounts a tmpfs of size bytes on a new directory (root only)
// and unmounts it at the end of the test; it skips when mounting is not
// allowed.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(size)); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestDiskFullOnARealFilesystem fills a 1 MiB tmpfs under a spool allowed
// 64 MiB: the kernel, not a limit of the spool, refuses the writes (even the
// 20-byte read position: it is then overwritten in place).
// Appending then fails with ErrWrite wrapping ENOSPC, the records not
// written are counted (WriteErrors), nothing panics or blocks, the file is
// cut back to its last whole record (a reopen finds nothing torn and every
// appended record, in order), and once records are acknowledged and their
// segments deleted, appending works again.
func TestDiskFullOnARealFilesystem(t *testing.T) {
	dir := mountTmpfs(t, 1<<20)
	cfg := Config{Dir: filepath.Join(dir, "spool"), MaxBytes: 64 << 20, SegmentBytes: 128 << 10}
	s := mustOpen(t, cfg)
	appended, failed := 0, 0
	var lastErr error
	for i := 0; failed < 20 && i < 100000; i += 10 {
		n, err := s.Append(recs(appended, 10))
		appended += n
		if err != nil {
			if !errors.Is(err, ErrWrite) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("append %d: %v, want ErrWrite wrapping ENOSPC", i, err)
			}
			failed++
			lastErr = err
		}
	}
	st := s.Stats()
	if failed == 0 || st.WriteErrors == 0 {
		t.Fatalf("the disk never filled: %+v", st)
	}
	if st.Appended != uint64(appended) || st.Records != uint64(appended) {
		t.Fatalf("appended %d, stats %+v", appended, st)
	}
	t.Logf("1 MiB tmpfs: %d records appended (%d bytes on disk), then %d refused writes (%d records counted): %v",
		appended, st.Bytes, failed, st.WriteErrors, lastErr)
	s.Close()

	// The spool opens on the full disk (reading is what frees space).
	s = mustOpen(t, cfg)
	if st := s.Stats(); st.TornRecords != 0 || st.Records != uint64(appended) {
		t.Fatalf("after reopen on the full disk: %+v, want %d records, none torn", st, appended)
	}
	// Drain half: whole segments are deleted, space comes back.
	want := 0
	for want < appended/2 {
		b, err := s.Read(100, 1<<20)
		if err != nil {
			t.Fatal(err)
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
	if n, err := s.Append(recs(appended, 10)); n != 10 || err != nil {
		t.Fatalf("append after space came back: %d %v (stats %+v)", n, err, s.Stats())
	}
	if next := drain(t, s, want, 100); next != appended+10 {
		t.Fatalf("read up to %d, want %d", next, appended+10)
	}
	s.Close()
}

// TestKilledWriterRepeatedly kills an appending child process with SIGKILL
// five times; each new child reopens the spool (cutting a torn tail, if the
// kill landed mid-write), finds the last whole record and appends on from
// it. At the end the spool holds 0…n-1, every record whole and in order:
// a complete record is never lost, a torn one is counted, never fatal.
// Records are 64 KiB…2 MiB so that a kill can land inside a write (the
// kernel checks for a fatal signal between pages).
func TestKilledWriterRepeatedly(t *testing.T) {
	cfg := func(dir string) Config { return Config{Dir: dir, SegmentBytes: 8 << 20, MaxBytes: 512 << 20} }
	if dir := os.Getenv("NUNCHI_TEST_SPOOL_KILL_CHILD"); dir != "" {
		s, err := Open(cfg(dir))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		st := s.Stats()
		// The next record number is the count of whole records left (none
		// was acknowledged): records are numbered from 0.
		next := int(st.Records)
		os.WriteFile(filepath.Join(dir, "torn-"+strconv.Itoa(os.Getpid())), []byte(strconv.FormatUint(st.TornRecords, 10)), 0o644)
		os.WriteFile(filepath.Join(dir, "started"), nil, 0o644)
		for {
			// A fast disk fills max_bytes within a round: a record the spool
			// refuses (ErrFull, counted) was not written, so its number is
			// not used up — the spool stays full until the test reads it.
			if _, err := s.Append([][]byte{bigRec(next)}); err != nil {
				time.Sleep(time.Millisecond)
				continue
			}
			next++
		}
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	var torn uint64
	for round := range 5 {
		os.Remove(filepath.Join(dir, "started"))
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriterRepeatedly$")
		cmd.Env = append(os.Environ(), "NUNCHI_TEST_SPOOL_KILL_CHILD="+dir)
		cmd.Stderr = os.Stderr
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
				t.Fatalf("round %d: child did not start", round)
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(50+round*37) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		b, _ := os.ReadFile(filepath.Join(dir, "torn-"+strconv.Itoa(cmd.Process.Pid)))
		n, _ := strconv.ParseUint(string(b), 10, 64)
		torn += n
	}
	s := mustOpen(t, cfg(dir))
	defer s.Close()
	st := s.Stats()
	torn += st.TornRecords
	want := 0
	for {
		b, err := s.Read(64, 4<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Records) == 0 {
			break
		}
		for _, r := range b.Records {
			if string(r) != string(bigRec(want)) {
				t.Fatalf("record %d: %d bytes, not the record written (%d bytes)", want, len(r), len(bigRec(want)))
			}
			want++
		}
		if err := s.Ack(b); err != nil {
			t.Fatal(err)
		}
	}
	if want == 0 || uint64(want) != st.Recovered {
		t.Fatalf("read %d records, open recovered %d", want, st.Recovered)
	}
	t.Logf("5 kills: %d whole records in order (%d segments), %d torn tails cut and counted", want, st.Segments, torn)
}

// bigRec is record i: 64 KiB…2 MiB, its number first, then a pattern.
func bigRec(i int) []byte {
	n := 64<<10 + (i*7919*61)%(2<<20-64<<10)
	b := make([]byte, n)
	copy(b, fmt.Sprintf("%08d|", i))
	for j := 9; j < n; j++ {
		b[j] = byte(i + j)
	}
	return b
}
