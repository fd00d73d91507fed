package node

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The commented config that `hayek init` writes must say exactly what the
// defaults are.
func TestDefaultConfigFileParsesToDefaults(t *testing.T) {
	got, err := ParseConfig(bytes.NewReader(DefaultConfigFile()))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Provider.Slots = got.Provider.Slots // commented out: the CPU count
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("config.toml parses to\n%+v\nwant DefaultConfig()\n%+v", got, want)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, toml, want string
	}{
		{"unknown key", "[provider]\nslotz = 3\n", `unknown key "provider.slotz"`},
		{"bad size", "[provider]\nmax_memory = \"lots\"\n", "not a size"},
		{"bad listen", "[network]\nlisten = [\"tcp:4001\"]\n", "network.listen"},
		{"bad bootstrap", "[network]\nbootstrap = [\"/ip4/1.2.3.4/tcp/1\"]\n", "network.bootstrap"},
		{"no wasm", "[provider]\ncapabilities = [\"gpu/nvidia/h100\"]\n", "runtime/wasm"},
		{"free", "[provider.pricing]\nbase = 0\nper_second = 0\nper_gib_second = 0\n", "provider.pricing.base"},
		{"many at once", "[requester]\nmax_attempts = 0\nmax_invitees = 0\n", "requester.max_invitees"},
		{"metrics on all interfaces", "[metrics]\nlisten = \"0.0.0.0:9464\"\n", "not a loopback IP"},
		{"metrics on a public IP", "[metrics]\nlisten = \"192.0.2.1:9464\"\n", "metrics.listen"},
		{"metrics without a host", "[metrics]\nlisten = \":9464\"\n", "not a loopback IP"},
		{"metrics by name", "[metrics]\nlisten = \"localhost:9464\"\n", "not a loopback IP"},
		{"metrics without a port", "[metrics]\nlisten = \"127.0.0.1\"\n", "host:port"},
		{"catch window too short", "[reputation]\ncatch_window = \"30s\"\n", "reputation.catch_window"},
		{"catch window negative", "[reputation]\ncatch_window = \"-1h\"\n", "reputation.catch_window"},
		{"unknown verification", "[requester]\nverify = \"twice\"\n", "requester.verify"},
		{"replicate without K", "[requester]\nverify = \"replicate:1\"\n", "replicate:K"},
		{"empty verification", "[requester]\nverify = \"\"\n", "requester.verify"},
	} {
		_, err := ParseConfig(strings.NewReader(tc.toml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", tc.name, err, tc.want)
		}
		if err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v does not wrap ErrConfig", tc.name, err)
		}
		if ce := (*ConfigError)(nil); errors.As(err, &ce) && (!errors.Is(ce, ErrConfig) || !errors.Is(ce, ce.Err)) {
			t.Errorf("%s: field error %v does not unwrap to both ErrConfig and its cause", tc.name, ce)
		}
	}
	if c, err := ParseConfig(strings.NewReader("[reputation]\ncatch_window = \"0s\"\n")); err != nil || c.Reputation.CatchWindow != 0 {
		t.Errorf("catch_window 0 (sharing off): %v, %v", c.Reputation.CatchWindow, err)
	}
	_, err := ParseConfig(strings.NewReader("[requester]\nmax_attempts = 0\nmax_invitees = 0\n"))
	if !strings.Contains(err.Error(), "requester.max_attempts") {
		t.Errorf("want every bad field reported, got %v", err)
	}
}

func TestMetricsListenOnLoopback(t *testing.T) {
	for _, addr := range []string{"", "127.0.0.1:9464", "[::1]:9464", "127.0.0.2:0"} {
		if err := checkMetricsListen(addr); err != nil {
			t.Errorf("%q refused: %v", addr, err)
		}
	}
}
