package measure

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// A thread that is not a measuring one and keeps waking during the window
// shows as self-noise; the measuring thread's own work does not.
func TestNoise(t *testing.T) {
	done := make(chan Noise)
	go func() {
		if err := LockThread(-1); err != nil {
			t.Error(err)
		}
		s := StartNoise()
		SpinUntil(Now() + int64(200*time.Millisecond)) // the measuring thread's own work
		done <- s.End()
	}()
	time.Sleep(10 * time.Millisecond)
	// Noise: another thread wakes every 100 us.
	stop := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		for {
			select {
			case <-stop:
				return
			default:
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	n := <-done
	close(stop)
	if n.Switches < 100 || n.Window < int64(150*time.Millisecond) {
		t.Errorf("Noise = %+v, want at least 100 switches of the sleeping thread over ~200 ms", n)
	}
	if n.Invalid() == "" && n.PerSecond() > NoiseMaxSwitches && n.Window >= NoiseMinWindow {
		t.Errorf("Noise %+v above the bound but Invalid() = \"\"", n)
	}
	ms := n.Metrics("v")
	if len(ms) != 2 || ms[0].Name != "v.selfnoise.switches" || ms[1].Name != "v.selfnoise.cpu" {
		t.Errorf("Metrics(v) = %+v", ms)
	}
}

func TestNoiseBounds(t *testing.T) {
	sec := int64(time.Second)
	for _, tt := range []struct {
		n    Noise
		want string
	}{
		{Noise{Window: sec, Switches: 300, CPU: sec / 100}, ""},
		{Noise{Window: sec, Switches: 3500}, "switched 3500 times a second"},
		{Noise{Window: sec, Switches: 10, CPU: sec / 5}, ""}, // CPU time is recorded, not bounded
		{Noise{Window: sec / 20, Switches: 75}, ""},          // 1500/s over 50 ms: the runtime's start, not judged
		{Noise{Window: sec / 4, Switches: 375}, "switched 1500 times a second"},
	} {
		if got := tt.n.Invalid(); (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%+v.Invalid() = %q, want %q", tt.n, got, tt.want)
		}
	}
}
