package exec

import (
	"errors"
	"testing"
	"time"
)

func TestConfigError(t *testing.T) {
	invalid := &InvalidConfig{Pkg: "exec/wasm"}
	reason := errors.New("must be between 0 and 64")
	err := error(invalid.Field("WarmImages", 65, reason))
	if got, want := err.Error(), "exec/wasm: config field WarmImages = 65: must be between 0 and 64"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !errors.Is(err, invalid) || !errors.Is(err, reason) {
		t.Errorf("%v does not unwrap to its sentinel and its reason", err)
	}
	if errors.Is(err, &InvalidConfig{Pkg: "exec/wasm"}) {
		t.Errorf("%v matches another package's sentinel", err)
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "WarmImages" {
		t.Errorf("errors.As: %v", err)
	}
}

func TestLimitsValidate(t *testing.T) {
	invalid := &InvalidConfig{Pkg: "exec/docker"}
	l := Limits{MemoryBytes: 1 << 20, Timeout: time.Second, StdoutBytes: 1, StderrBytes: 1, OutputBytes: 1, OutputFiles: 1}
	if err := l.Validate(invalid, "DefaultLimits"); err != nil {
		t.Fatal(err)
	}
	l.StderrBytes, l.OutputFiles = 0, -1 // the first in order is named
	err := l.Validate(invalid, "DefaultLimits")
	want := "exec/docker: config field DefaultLimits.StderrBytes = 0: must be positive; start from docker.DefaultConfig()"
	if err == nil || err.Error() != want || !errors.Is(err, invalid) {
		t.Fatalf("got %v, want %s", err, want)
	}
}
