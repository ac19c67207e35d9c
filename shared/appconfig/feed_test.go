package appconfig

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTheCaseFeedIsUsedOnlyWhenAskedFor(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  bool
	}{
		{"unset: the v2 listings", "", false},
		{"false: the v2 listings", "false", false},
		{"true: the v2beta case feed", "true", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := minimal()
			if tc.value != "" {
				env = with(env, EnvCSAPIUseFeed, tc.value)
			}
			got, err := Parse(getenv(env))
			if err != nil {
				t.Fatal(err)
			}
			if got.CSAPIUseFeed != tc.want {
				t.Errorf("CSAPIUseFeed = %v, want %v", got.CSAPIUseFeed, tc.want)
			}
		})
	}
	t.Run("a value that is not a boolean is rejected", func(t *testing.T) {
		_, err := Parse(getenv(with(minimal(), EnvCSAPIUseFeed, "yes")))
		var cerr *Error
		if !errors.As(err, &cerr) {
			t.Fatalf("Parse error = %v, want an *appconfig.Error", err)
		}
		if diff := cmp.Diff([]string{EnvCSAPIUseFeed}, cerr.Vars()); diff != "" {
			t.Errorf("variables named (-want +got):\n%s", diff)
		}
	})
}
