package units

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"0", 0, false}, {"4096", 4096, false}, {"64MiB", 64 << 20, false},
		{"64 MiB", 64 << 20, false}, {"1.5GB", 1500000000, false}, {"2G", 2 << 30, false},
		{"10kB", 10000, false}, {"7B", 7, false}, {"1Ki", 1024, false},
		{"", 0, true}, {"-1", 0, true}, {"MiB", 0, true}, {"12XB", 0, true}, {"NaN", 0, true},
		{"1e30TiB", 0, true},
	} {
		got, err := ParseSize(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseSize(%q) = %d, want error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestFormatSizeRoundTrips(t *testing.T) {
	for _, n := range []int64{0, 1, 1023, 1024, 64 << 20, 3 << 30} {
		got, err := ParseSize(FormatSize(n))
		if err != nil || got != n {
			t.Errorf("ParseSize(FormatSize(%d)=%q) = %d, %v", n, FormatSize(n), got, err)
		}
	}
}

func TestSizeJSON(t *testing.T) {
	var v struct{ A, B Size }
	if err := json.Unmarshal([]byte(`{"A":"2MiB","B":100}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != 2<<20 || v.B != 100 {
		t.Fatalf("got %+v", v)
	}
	if err := json.Unmarshal([]byte(`{"A":true}`), &v); err == nil {
		t.Fatal("want error for a boolean size")
	}
	// Numbers that are not a size say what is wrong with them.
	for in, want := range map[string]string{
		`99999999999999999999`: "too large",
		`1e30`:                 "not a whole number",
		`1.5`:                  "not a whole number",
		`-1`:                   "negative",
	} {
		var s Size
		if err := json.Unmarshal([]byte(in), &s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("size %s: %v, want an error saying %q", in, err, want)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	var v struct{ A, B Duration }
	if err := json.Unmarshal([]byte(`{"A":"1m30s","B":250}`), &v); err != nil {
		t.Fatal(err)
	}
	if time.Duration(v.A) != 90*time.Second || time.Duration(v.B) != 250*time.Millisecond {
		t.Fatalf("got %+v", v)
	}
	if err := json.Unmarshal([]byte(`{"A":"soon"}`), &v); err == nil {
		t.Fatal("want error")
	}
	// Milliseconds that overflow a time.Duration are refused, not wrapped
	// (18446744073710 ms × 1e6 wraps to 448 µs).
	for in, want := range map[string]string{
		`18446744073710`:       "too large",
		`9223372036855`:        "too large",
		`99999999999999999999`: "too large",
		`1.5`:                  "not a whole number",
		`-5`:                   "negative",
	} {
		var d Duration
		if err := json.Unmarshal([]byte(in), &d); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("duration %s: %v (%v), want an error saying %q", in, err, time.Duration(d), want)
		}
	}
	// null leaves a value alone, as for encoding/json's own types.
	nulls := struct {
		S Size
		D Duration
	}{5, 5}
	if err := json.Unmarshal([]byte(`{"S":null,"D":null}`), &nulls); err != nil || nulls.S != 5 || nulls.D != 5 {
		t.Errorf("null: %+v %v", nulls, err)
	}
	var d Duration
	if err := json.Unmarshal([]byte(`9223372036854`), &d); err != nil || time.Duration(d) != 9223372036854*time.Millisecond {
		t.Errorf("the longest duration in ms: %v %v", time.Duration(d), err)
	}
}
