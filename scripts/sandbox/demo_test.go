package main

import (
	"bytes"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{name: "minutes are shown as Go durations", in: 11 * time.Minute, want: "11m0s"},
		{name: "whole days are shown as days", in: 31 * 24 * time.Hour, want: "31 days"},
		{name: "days and a remainder show both", in: 31*24*time.Hour + 11*time.Minute, want: "31 days 11m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, humanDuration(tt.in)); diff != "" {
				t.Errorf("humanDuration(%v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestFormatCalls(t *testing.T) {
	tests := []struct {
		name  string
		calls map[string]int
		want  string
	}{
		{name: "no calls read as none", calls: map[string]int{}, want: "none"},
		{name: "calls are totalled and listed by method name", calls: map[string]int{"search": 1, "get": 3}, want: "4 (get=3, search=1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, formatCalls(tt.calls)); diff != "" {
				t.Errorf("formatCalls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDemoContent(t *testing.T) {
	t.Run("the long comment has exactly the asked number of characters, all ASCII", func(t *testing.T) {
		s := longText(30000)
		if diff := cmp.Diff([]int{30000, 30000}, []int{len(s), utf8.RuneCountInString(s)}); diff != "" {
			t.Errorf("length in bytes and runes (-want +got):\n%s", diff)
		}
	})
	t.Run("the binary files have NUL bytes and differ by seed", func(t *testing.T) {
		a, b := binaryData(4096, 1), binaryData(4096, 2)
		if !bytes.Contains(a, []byte{0}) {
			t.Error("binaryData has no NUL byte")
		}
		if bytes.Equal(a, b) {
			t.Error("binaryData gives the same bytes for two seeds")
		}
	})
	t.Run("a link line counts only as a whole line", func(t *testing.T) {
		text := "Some text\n\nThis case is now syncing with Company Case: 42\n"
		got := []bool{hasLine(text, "This case is now syncing with Company Case: 42"), hasLine(text, "This case is now syncing with Company Case: 4")}
		if diff := cmp.Diff([]bool{true, false}, got); diff != "" {
			t.Errorf("hasLine (-want +got):\n%s", diff)
		}
	})
}
