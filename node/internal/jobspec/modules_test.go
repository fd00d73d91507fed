package jobspec

import (
	"fmt"
	"testing"
)

// The modules remembered as checked are bounded: the oldest are forgotten
// (and checked again if they come back).
func TestCheckedModulesAreBounded(t *testing.T) {
	var c checkedModules
	for i := range maxCheckedModules + 10 {
		c.add(fmt.Sprintf("m%d", i))
	}
	if len(c.ok) != maxCheckedModules {
		t.Fatalf("%d modules remembered, want at most %d", len(c.ok), maxCheckedModules)
	}
	if c.has("m0") || !c.has(fmt.Sprintf("m%d", maxCheckedModules+9)) {
		t.Fatal("the oldest module is remembered or the newest is not")
	}
}
