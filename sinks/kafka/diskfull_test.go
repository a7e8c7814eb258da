package kafka

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestSpoolOnAFullDisk: the broker is away and the spool's directory is a
// 1 MiB tmpfs (spool_max_bytes 1 GiB: the kernel refuses first). Write
// never blocks and never fails, the events the disk cannot take are
// dropped and counted under spool_error, and the delivery account
// balances: enqueued = sent + dropped + pending. Needs root (mount);
// skipped otherwise.
func TestSpoolOnAFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(1<<20)); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	cfg := testConfig(refusedAddr(t), filepath.Join(dir, "spool"))
	cfg.MemoryEvents = 100
	cfg.CloseTimeout = time.Second
	s := newSink(t, cfg)
	s.Start()
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 100; i++ {
			if err := s.Write(events(i*100, 100)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Write on a full disk: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Write blocked on a full disk")
	}
	s.Close()
	d := s.DeliveryStats()
	checkBalanced(t, d)
	if d.Enqueued != 10000 || d.Dropped[DropSpoolError] == 0 || d.Sent != 0 {
		t.Errorf("delivery %+v", d)
	}
	t.Logf("1 MiB tmpfs, broker away: delivery %+v, spool %+v", d, s.SpoolStats())
}
