package docker

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
)

// ScratchArchive makes an image archive, in the layout `docker save`
// writes, of an image FROM scratch holding files (executable, at the
// root) and starting entrypoint: what a job ships as its module when its
// program is one static executable. No engine or registry is needed to
// make it; the executor loads it like any archive.
func ScratchArchive(files map[string][]byte, entrypoint []string) ([]byte, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o755, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			return nil, fmt.Errorf("exec/docker: scratch archive: %w", err)
		}
		tw.Write(files[n])
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("exec/docker: scratch archive: %w", err)
	}
	layerSum := sha256.Sum256(layer.Bytes())
	layerHex := hex.EncodeToString(layerSum[:])
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux",
		"config": map[string]any{"Entrypoint": entrypoint},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerHex}},
	})
	if err != nil {
		return nil, err
	}
	cfgSum := sha256.Sum256(config)
	cfgName := hex.EncodeToString(cfgSum[:]) + ".json"
	manifest, err := json.Marshal([]any{map[string]any{"Config": cfgName, "RepoTags": nil, "Layers": []string{layerHex + "/layer.tar"}}})
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	ow := tar.NewWriter(&out)
	for _, e := range []struct {
		name string
		data []byte
	}{{layerHex + "/", nil}, {layerHex + "/layer.tar", layer.Bytes()}, {layerHex + "/VERSION", []byte("1.0")},
		{cfgName, config}, {"manifest.json", manifest}} {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}
		if e.data == nil {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		if err := ow.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("exec/docker: scratch archive: %w", err)
		}
		ow.Write(e.data)
	}
	if err := ow.Close(); err != nil {
		return nil, fmt.Errorf("exec/docker: scratch archive: %w", err)
	}
	return out.Bytes(), nil
}
