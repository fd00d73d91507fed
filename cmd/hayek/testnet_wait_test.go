package main

import (
	"strings"
	"testing"
)

func TestTestnetWaitWarmUpFlag(t *testing.T) {
	res := runCLI(t, "testnet", "wait", "--dir", t.TempDir(), "--warm-up", "everyone")
	res.want(t, ExitUsage)
	if !strings.Contains(res.stderr, `--warm-up "everyone": want requesters or providers`) {
		t.Errorf("stderr %q, want the flag, its value and the choices", res.stderr)
	}
}
