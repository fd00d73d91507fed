package wire

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestUntilFile(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "until.json")

	if m, err := LoadUntil(path, now, 10); err != nil || len(m) != 0 {
		t.Fatalf("a missing file: %v, %v; want empty, no error", m, err)
	}
	in := map[string]time.Time{"a": now.Add(time.Hour), "b": now.Add(2 * time.Hour), "gone": now, "c": now.Add(3 * time.Hour)}
	if err := SaveUntil(path, in); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved file: %v, %v; want mode 0600", fi, err)
	}
	m, err := LoadUntil(path, now, 2)
	if err != nil || len(m) != 2 || !m["b"].Equal(in["b"]) || !m["c"].Equal(in["c"]) {
		t.Fatalf("loaded %v, %v; want b and c, the two ending last, without the expired", m, err)
	}
	if es, _ := os.ReadDir(filepath.Dir(path)); len(es) != 1 {
		t.Errorf("%d files beside the saved one, want none left behind", len(es)-1)
	}

	for name, body := range map[string]string{
		"corrupt": `{"version":1,"until":`,
		"version": `{"version":2,"until":{}}`,
	} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := LoadUntil(path, now, 10)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.HasPrefix(err.Error(), "wire: ") || len(m) != 0 {
			t.Errorf("%s: %v, %v; want an error naming the file and nothing loaded", name, m, err)
		}
	}
}
