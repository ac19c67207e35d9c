package clock

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReadOffset(t *testing.T) {
	tests := []struct {
		name    string
		content *string
		want    time.Duration
		wantErr bool
	}{
		{name: "a missing file is no offset", content: nil, want: 0},
		{name: "an empty file is no offset", content: ptr(""), want: 0},
		{name: "a Go duration is read", content: ptr("744h\n"), want: 744 * time.Hour},
		{name: "a negative duration is read", content: ptr("-90m"), want: -90 * time.Minute},
		{name: "garbage is an error", content: ptr("a month"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "offset")
			if tt.content != nil {
				if err := os.WriteFile(path, []byte(*tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadOffset(path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ReadOffset error = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReadOffset (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFileOffsetClock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offset")
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := base
	c := NewFileOffset(path)
	c.now = func() time.Time { return now }

	t.Run("with no file it tells the system time", func(t *testing.T) {
		if diff := cmp.Diff(base, c.Now()); diff != "" {
			t.Errorf("Now (-want +got):\n%s", diff)
		}
	})

	t.Run("an advance is seen once the refresh interval has passed", func(t *testing.T) {
		if _, err := Advance(path, 48*time.Hour); err != nil {
			t.Fatal(err)
		}
		now = now.Add(refresh)
		if diff := cmp.Diff(now.Add(48*time.Hour), c.Now()); diff != "" {
			t.Errorf("Now (-want +got):\n%s", diff)
		}
	})

	t.Run("advances add up", func(t *testing.T) {
		got, err := Advance(path, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(72*time.Hour, got); diff != "" {
			t.Errorf("Advance (-want +got):\n%s", diff)
		}
		now = now.Add(refresh)
		if diff := cmp.Diff(72*time.Hour, c.Offset()); diff != "" {
			t.Errorf("Offset (-want +got):\n%s", diff)
		}
	})

	t.Run("a corrupt file keeps the last good offset and reports why", func(t *testing.T) {
		if err := os.WriteFile(path, []byte("soon"), 0o600); err != nil {
			t.Fatal(err)
		}
		now = now.Add(refresh)
		if diff := cmp.Diff(72*time.Hour, c.Offset()); diff != "" {
			t.Errorf("Offset (-want +got):\n%s", diff)
		}
		if c.Err() == nil {
			t.Error("Err() = nil, want the parse failure")
		}
	})
}

func TestFromEnv(t *testing.T) {
	t.Run("without the variable it is the system clock", func(t *testing.T) {
		t.Setenv(EnvFile, "")
		if _, ok := FromEnv().(System); !ok {
			t.Errorf("FromEnv() = %T, want System", FromEnv())
		}
	})
	t.Run("with the variable it is a file offset clock on that file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "offset")
		if err := WriteOffset(path, time.Hour); err != nil {
			t.Fatal(err)
		}
		t.Setenv(EnvFile, path)
		c, ok := FromEnv().(*FileOffset)
		if !ok {
			t.Fatalf("FromEnv() = %T, want *FileOffset", FromEnv())
		}
		if diff := cmp.Diff(time.Hour, c.Offset()); diff != "" {
			t.Errorf("Offset (-want +got):\n%s", diff)
		}
	})
}

func ptr(s string) *string { return &s }
