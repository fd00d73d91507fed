package main

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/hayek-market/hayek/node"
)

func TestVersion(t *testing.T) {
	r := runCLI(t, "version")
	r.want(t, ExitOK)
	if !strings.HasPrefix(r.stdout, "hayek "+node.Version) || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("hayek version printed %q", r.stdout)
	}
	if flag := runCLI(t, "--version"); flag.code != ExitOK || flag.stdout != r.stdout {
		t.Errorf("hayek --version printed %q (exit %d), want %q", flag.stdout, flag.code, r.stdout)
	}
	runCLI(t, "version", "extra").want(t, ExitUsage)
}

func TestVersionLine(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/hayek-market/hayek", Version: "v0.1.1-0.20260301120000-1eee78d2f0a1+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "1eee78d2f0a1b2c3"},
			{Key: "vcs.time", Value: "2026-03-01T12:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	want := "hayek " + node.Version + " (module github.com/hayek-market/hayek v0.1.1-0.20260301120000-1eee78d2f0a1+dirty), commit 1eee78d2f0a1b2c3 modified of 2026-03-01T12:00:00Z, go1.26.0"
	if got := versionLine(bi, true); got != want {
		t.Errorf("versionLine\n got %q\nwant %q", got, want)
	}
	if got := versionLine(nil, false); got != "hayek "+node.Version {
		t.Errorf("without build information: %q", got)
	}
}
