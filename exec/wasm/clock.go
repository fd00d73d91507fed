package wasm

import (
	"time"

	"github.com/tetratelabs/wazero/sys"
)

// fakeEpoch is where every job's wall clock starts, 2022-01-01T00:00:00Z in
// Unix nanoseconds: the epoch of wazero's own fake clock, which jobs saw
// before the executor had its own.
const fakeEpoch = 1640995200 * int64(time.Second)

// clockResolution is what clock_res_get reports for the wall clock, as
// wazero's fake clock does.
const clockResolution = sys.ClockResolution(time.Microsecond)

// jobClock is the wall clock a job sees. It reads exactly as wazero's
// default fake clock (fakeEpoch first, then 1 ms more at every reading),
// so that replicas agree, but it belongs to the run: the job's file
// systems stamp times with its latest reading, without advancing it. A
// file's times thus never run ahead of what the job could have read, and
// looking at them changes nothing the job sees later.
//
// Only the goroutine running the guest uses it, so it has no lock.
type jobClock struct {
	last int64 // the latest reading; zero before the first
}

// walltime is the job's sys.Walltime.
func (c *jobClock) walltime() (sec int64, nsec int32) {
	if c.last == 0 {
		c.last = fakeEpoch
	} else {
		c.last += int64(time.Millisecond)
	}
	return c.last / int64(time.Second), int32(c.last % int64(time.Second))
}

// now is the time to stamp on a file: the latest reading, or the epoch
// before the job has read the clock. A nil clock (the read-only /in) is
// always at the epoch.
func (c *jobClock) now() int64 {
	if c == nil || c.last == 0 {
		return fakeEpoch
	}
	return c.last
}
