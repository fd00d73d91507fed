package docker

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

type tarEntry struct {
	name, link string
	typ        byte
	data       []byte
}

func makeTar(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Mode: 0o644}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write(e.data)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const testConfig = `{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/toolbox"]},"rootfs":{"type":"layers","diff_ids":[]}}`

func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// legacyArchive is a minimal archive in the layout Docker 20.10 saves.
func legacyArchive(t testing.TB, change func(m map[string]any, entries []tarEntry) []tarEntry) []byte {
	t.Helper()
	cfg := digestOf(testConfig)
	m := map[string]any{"Config": cfg + ".json", "RepoTags": []string{"alpine:latest"}, "Layers": []string{"abc/layer.tar"}}
	entries := []tarEntry{
		{name: "abc/", typ: tar.TypeDir},
		{name: "abc/layer.tar", data: makeTar(t, []tarEntry{{name: "toolbox", data: []byte("x")}})},
		{name: "abc/VERSION", data: []byte("1.0")},
		{name: cfg + ".json", data: []byte(testConfig)},
		{name: "repositories", data: []byte(`{"alpine":{"latest":"abc"}}`)},
	}
	if change != nil {
		entries = change(m, entries)
	}
	mj, _ := json.Marshal([]any{m})
	return makeTar(t, append(entries, tarEntry{name: "manifest.json", data: mj}))
}

func TestParseArchive(t *testing.T) {
	a, err := ParseArchive(legacyArchive(t, nil), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if a.ImageID != "sha256:"+digestOf(testConfig) || a.OS != "linux" || a.Architecture != "amd64" || a.Layers != 1 {
		t.Errorf("archive = %+v", a)
	}
	// The archive to load names nothing: no RepoTags, no repositories.
	tr := tar.NewReader(bytes.NewReader(a.sanitized))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if h.Name == "repositories" || (h.Name == "manifest.json" && strings.Contains(string(body), "RepoTags")) {
			t.Errorf("the archive to load still names the image: %s %s", h.Name, body)
		}
	}
	if _, err := ParseArchive(a.sanitized, 1<<20); err != nil {
		t.Errorf("the sanitized archive does not parse: %v", err)
	}

	// The OCI layout Docker 25 and later save.
	cfg := digestOf(testConfig)
	index := `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:00","size":1,"annotations":{"io.containerd.image.name":"docker.io/library/alpine:latest"}}]}`
	mj, _ := json.Marshal([]any{map[string]any{"Config": "blobs/sha256/" + cfg, "RepoTags": []string{"alpine:latest"}, "Layers": []string{"blobs/sha256/aa"}}})
	oci := makeTar(t, []tarEntry{
		{name: "blobs/", typ: tar.TypeDir},
		{name: "blobs/sha256/", typ: tar.TypeDir},
		{name: "blobs/sha256/" + cfg, data: []byte(testConfig)},
		{name: "blobs/sha256/aa", data: []byte("layer")},
		{name: "index.json", data: []byte(index)},
		{name: "oci-layout", data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{name: "manifest.json", data: mj},
	})
	a, err = ParseArchive(oci, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(a.sanitized, []byte("io.containerd.image.name")) || bytes.Contains(a.sanitized, []byte("RepoTags")) {
		t.Error("the OCI archive to load still names the image")
	}
}

func TestParseArchiveRefuses(t *testing.T) {
	cfg := digestOf(testConfig)
	for _, tc := range []struct {
		name   string
		data   []byte
		max    int64
		reason string
	}{
		{"empty", nil, 1 << 20, "no manifest.json"},
		{"text", []byte("hello, I am not a module"), 1 << 20, "not a tar archive"},
		{"too big", legacyArchive(t, nil), 1000, "above the 1000-byte limit"},
		{"truncated", legacyArchive(t, nil)[:1500], 1 << 20, "more bytes than the archive holds"},
		{"truncated in a header", legacyArchive(t, nil)[:700], 1 << 20, "not a tar archive"},
		{"absolute name", legacyArchive(t, func(m map[string]any, e []tarEntry) []tarEntry {
			return append(e, tarEntry{name: "/etc/passwd", data: []byte("x")})
		}), 1 << 20, "absolute name"},
		{"dot-dot name", legacyArchive(t, func(m map[string]any, e []tarEntry) []tarEntry {
			return append(e, tarEntry{name: "abc/../../escape", data: []byte("x")})
		}), 1 << 20, `".." in the name`},
		{"symlink out", legacyArchive(t, func(m map[string]any, e []tarEntry) []tarEntry {
			return append(e, tarEntry{name: "abc/evil", typ: tar.TypeSymlink, link: "../../etc/passwd"})
		}), 1 << 20, "outside the archive"},
		{"absolute symlink", legacyArchive(t, func(m map[string]any, e []tarEntry) []tarEntry {
			return append(e, tarEntry{name: "abc/evil", typ: tar.TypeSymlink, link: "/etc/passwd"})
		}), 1 << 20, "absolute path"},
		{"hard link out", legacyArchive(t, func(m map[string]any, e []tarEntry) []tarEntry {
			return append(e, tarEntry{name: "abc/evil", typ: tar.TypeLink, link: "../x"})
		}), 1 << 20, "outside the archive"},
		{"device", legacyArchive(t, func(m map[string]any, e []tarEntry) []tarEntry {
			return append(e, tarEntry{name: "abc/sda", typ: tar.TypeBlock})
		}), 1 << 20, "only files, directories and links"},
		{"duplicate", legacyArchive(t, func(m map[string]any, e []tarEntry) []tarEntry {
			return append(e, tarEntry{name: "abc/VERSION", data: []byte("2")})
		}), 1 << 20, "appears twice"},
		{"missing layer", legacyArchive(t, func(m map[string]any, e []tarEntry) []tarEntry {
			m["Layers"] = []string{"nope/layer.tar"}
			return e
		}), 1 << 20, "not in the archive"},
		{"layer outside", legacyArchive(t, func(m map[string]any, e []tarEntry) []tarEntry {
			m["Layers"] = []string{"../layer.tar"}
			return e
		}), 1 << 20, "not a name inside the archive"},
		{"config outside", legacyArchive(t, func(m map[string]any, e []tarEntry) []tarEntry {
			m["Config"] = "/etc/passwd"
			return e
		}), 1 << 20, "not a name inside the archive"},
		{"config digest", legacyArchive(t, func(m map[string]any, e []tarEntry) []tarEntry {
			return append(e, tarEntry{name: strings.Repeat("0", 64) + ".json", data: []byte(testConfig)})
		}), 1 << 20, ""},
		{"tampered config", legacyArchive(t, func(m map[string]any, e []tarEntry) []tarEntry {
			m["Config"] = strings.Repeat("0", 64) + ".json"
			return append(e, tarEntry{name: strings.Repeat("0", 64) + ".json", data: []byte(testConfig)})
		}), 1 << 20, "not the one its name says"},
		{"no platform", legacyArchive(t, func(m map[string]any, e []tarEntry) []tarEntry {
			c := `{"config":{}}`
			m["Config"] = digestOf(c) + ".json"
			return append(e, tarEntry{name: digestOf(c) + ".json", data: []byte(c)})
		}), 1 << 20, "no os and architecture"},
		{"link loop", legacyArchive(t, func(m map[string]any, e []tarEntry) []tarEntry {
			m["Layers"] = []string{"l1"}
			return append(e, tarEntry{name: "l1", typ: tar.TypeSymlink, link: "l2"}, tarEntry{name: "l2", typ: tar.TypeSymlink, link: "l1"})
		}), 1 << 20, "too many links"},
		{"two images", makeTar(t, []tarEntry{{name: "manifest.json", data: []byte(`[{"Config":"` + cfg + `.json","Layers":["a"]},{"Config":"x","Layers":["a"]}]`)}}), 1 << 20, "lists 2 images"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseArchive(tc.data, tc.max)
			if tc.reason == "" { // an unused extra file is harmless
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrBadArchive) || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("err = %v, want ErrBadArchive saying %q", err, tc.reason)
			}
		})
	}
}

// FuzzParseArchive: no input makes the parser panic, and what it accepts
// is an archive it accepts again once sanitized, naming the same image
// and no tags.
func FuzzParseArchive(f *testing.F) {
	f.Add(legacyArchive(f, nil))
	f.Add(legacyArchive(f, func(m map[string]any, e []tarEntry) []tarEntry {
		return append(e, tarEntry{name: "abc/link", typ: tar.TypeSymlink, link: "layer.tar"})
	}))
	f.Add([]byte("sha256:" + strings.Repeat("a", 64)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseArchive(data, 1<<20)
		if err != nil {
			if !errors.Is(err, ErrBadArchive) {
				t.Fatalf("error not ErrBadArchive: %v", err)
			}
			return
		}
		if !strings.HasPrefix(a.ImageID, "sha256:") || len(a.ImageID) != 71 {
			t.Fatalf("image ID %q", a.ImageID)
		}
		b, err := ParseArchive(a.sanitized, 1<<30)
		if err != nil {
			t.Fatalf("the sanitized archive is refused: %v", err)
		}
		if b.ImageID != a.ImageID {
			t.Fatalf("sanitizing changed the image: %s -> %s", a.ImageID, b.ImageID)
		}
		if bytes.Contains(b.sanitized, []byte(`"RepoTags":[`)) {
			t.Fatal("tags survived sanitizing")
		}
	})
}

func TestParseReference(t *testing.T) {
	id := "sha256:" + strings.Repeat("ab", 32)
	for ref, ok := range map[string]bool{
		id:                                   true,
		"alpine@" + id:                       true,
		"registry.local:5000/team/app@" + id: true,
		" " + id + "\n":                      true,
		"alpine:latest":                      false,
		"alpine":                             false,
		"sha256:abc":                         false,
		"Alpine@" + id:                       false,
		"#!/bin/sh\necho":                    false,
		"alpine@" + id + "\nx":               false,
	} {
		_, err := parseReference(ref)
		if (err == nil) != ok {
			t.Errorf("parseReference(%q) = %v, want ok %v", ref, err, ok)
		}
	}
	if _, err := parseReference("alpine:3.20"); err == nil || !strings.Contains(err.Error(), "by tag") {
		t.Errorf("a tag: %v, want it refused as a tag", err)
	}
}
