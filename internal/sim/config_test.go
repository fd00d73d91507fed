package sim

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// testdata/default.toml is DefaultConfig, written out.
func TestDefaultTOMLIsDefaultConfig(t *testing.T) {
	f, err := os.Open("testdata/default.toml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ParseConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Fatalf("testdata/default.toml differs from DefaultConfig:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseConfigRefuses(t *testing.T) {
	for _, c := range []struct{ toml, want string }{
		{"jobz = 3", "unknown keys jobz"},
		{"jobs = 0", "jobs"},
		{"verify = \"replicate:1\"", "verify"},
		{"[[population]]\nkind = \"saint\"\ncount = 3", "population[0].kind"},
	} {
		_, err := ParseConfig(strings.NewReader(c.toml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want an error naming %s", c.toml, err, c.want)
		}
		if err != nil && !strings.Contains(c.want, "unknown") && !errors.Is(err, ErrConfig) {
			t.Errorf("%q: %v does not wrap ErrConfig", c.toml, err)
		}
	}
}
