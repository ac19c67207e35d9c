// Package clock tells casebridge the time. Production uses the system clock;
// the sandbox uses a clock that runs ahead of the system clock by an offset
// kept in a file, so that every process of the local stack (the functions
// process and the simulators in the sandbox process) can be moved forward
// together, e.g. to see a mapping cleaned up 30 days after its case closed.
package clock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// EnvFile is the environment variable naming the offset file. When it is
// unset, FromEnv returns the system clock.
const EnvFile = "CASEBRIDGE_CLOCK_FILE"

// refresh is how long a FileOffset clock trusts the offset it last read.
const refresh = 50 * time.Millisecond

// Clock tells the time. It has the method set of casesync.Clock.
type Clock interface {
	Now() time.Time
}

// System is the system clock.
type System struct{}

// Now returns the current system time.
func (System) Now() time.Time { return time.Now() }

// FileOffset is a clock that runs ahead of the system clock by the duration
// written in a file (a Go duration such as "744h"). The file is re-read at
// most every 50 ms; a missing or empty file means no offset.
type FileOffset struct {
	path string
	now  func() time.Time

	mu     sync.Mutex
	offset time.Duration
	readAt time.Time
	err    error
}

// NewFileOffset returns a clock whose offset is read from path.
func NewFileOffset(path string) *FileOffset {
	return &FileOffset{path: path, now: time.Now}
}

// Now returns the system time plus the current offset.
func (c *FileOffset) Now() time.Time {
	return c.now().Add(c.Offset())
}

// Offset returns the current offset. If the file cannot be read or parsed,
// the last good offset is kept and Err reports why.
func (c *FileOffset) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !c.readAt.IsZero() && now.Sub(c.readAt) < refresh && now.After(c.readAt.Add(-refresh)) {
		return c.offset
	}
	c.readAt = now
	d, err := ReadOffset(c.path)
	if err != nil {
		c.err = err
		return c.offset
	}
	c.offset, c.err = d, nil
	return c.offset
}

// Err reports the last failure to read the offset file, if any.
func (c *FileOffset) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// FromEnv returns a FileOffset clock on the file named by
// CASEBRIDGE_CLOCK_FILE, or the system clock when it is unset.
func FromEnv() Clock {
	if p := os.Getenv(EnvFile); p != "" {
		return NewFileOffset(p)
	}
	return System{}
}

// ReadOffset reads the offset in the file at path. A missing or empty file
// is a zero offset.
func ReadOffset(path string) (time.Duration, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading clock offset: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("clock offset file %s: %w", path, err)
	}
	return d, nil
}

// Advance moves the clock kept in the file at path forward by d and returns
// the new offset. The file is replaced atomically, so a reader never sees a
// half-written value. Advance is not safe for concurrent use on one file.
func Advance(path string, d time.Duration) (time.Duration, error) {
	cur, err := ReadOffset(path)
	if err != nil {
		return 0, err
	}
	next := cur + d
	if err := WriteOffset(path, next); err != nil {
		return 0, err
	}
	return next, nil
}

// WriteOffset sets the offset in the file at path.
func WriteOffset(path string, d time.Duration) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".clock-*")
	if err != nil {
		return fmt.Errorf("writing clock offset: %w", err)
	}
	if _, err := tmp.WriteString(d.String() + "\n"); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("writing clock offset: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing clock offset: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing clock offset: %w", err)
	}
	return nil
}

// Manual is a clock that moves only when told: for tests and the chaos
// suite. Sleep moves it instead of waiting (the engine sleeps through a
// clock that has a Sleep method). It is safe for concurrent use.
type Manual struct {
	mu  sync.Mutex
	now time.Time
}

// NewManual returns a clock that reads start.
func NewManual(start time.Time) *Manual { return &Manual{now: start} }

// Now returns the clock's time.
func (c *Manual) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Manual) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Sleep moves the clock forward by d instead of waiting.
func (c *Manual) Sleep(ctx context.Context, d time.Duration) error {
	c.Advance(d)
	return ctx.Err()
}
