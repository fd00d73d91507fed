package docker

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// ErrBadArchive is wrapped by every error ParseArchive returns: the bytes
// are not an image archive this executor will load.
var ErrBadArchive = errors.New("exec/docker: bad image archive")

// Bounds on what ParseArchive accepts. They keep a hostile archive from
// costing the provider more than reading it once: no entry count, name,
// manifest or image config beyond them is believed.
const (
	maxArchiveEntries = 4096
	maxNameBytes      = 512
	maxManifestBytes  = 1 << 20 // manifest.json, index.json, repositories
	maxConfigBytes    = 1 << 20 // the image config
	maxLayers         = 256
)

// Archive is an image archive, as `docker save` writes it (the legacy
// layout and the OCI layout Docker 25 and later write), checked and
// stripped of every name it would give the image.
type Archive struct {
	// ImageID is the image the engine will know after loading it:
	// "sha256:" and the SHA-256 of its config.
	ImageID string
	// OS and Architecture are the platform the image's config names.
	OS, Architecture string
	// Layers is how many layers the image has.
	Layers int

	sanitized []byte // the archive to load: manifest without RepoTags, no repositories file
}

// manifestEntry is one image in manifest.json.
type manifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// ParseArchive checks data is an image archive of exactly one image whose
// every entry stays inside the archive, and returns it ready to load. It
// refuses archives larger than maxBytes, entries with absolute names,
// ".." components or links that leave the archive, devices and FIFOs,
// duplicate names, a manifest naming files the archive lacks, and an
// image config whose digest does not match its name. Tags in the archive
// are dropped: a job must not be able to rename a provider's images by
// shipping an archive that claims their names.
func ParseArchive(data []byte, maxBytes int64) (*Archive, error) {
	bad := func(format string, args ...any) (*Archive, error) {
		return nil, fmt.Errorf("%w: %s", ErrBadArchive, fmt.Sprintf(format, args...))
	}
	if int64(len(data)) > maxBytes {
		return bad("%d bytes, above the %d-byte limit for image archives", len(data), maxBytes)
	}
	type entry struct {
		typ  byte
		size int64
		link string
		data []byte // kept for the small files read back: manifest, index, configs
	}
	entries := map[string]*entry{}
	var order []string
	var declared int64
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return bad("not a tar archive (save the image with `docker save IMAGE -o image.tar`): %v", err)
		}
		if len(order) >= maxArchiveEntries {
			return bad("more than %d entries", maxArchiveEntries)
		}
		name, err := cleanName(h.Name)
		if err != nil {
			return bad("entry %q: %v", h.Name, err)
		}
		if name == "" {
			continue // "./": the archive's root
		}
		if _, dup := entries[name]; dup {
			return bad("entry %q appears twice", name)
		}
		// A sparse entry (GNU or PAX) unpacks to far more than the
		// archive holds: a few bytes could claim a terabyte.
		for k := range h.PAXRecords {
			if strings.HasPrefix(k, "GNU.sparse.") {
				return bad("entry %q is a sparse file: not in an image archive", name)
			}
		}
		if declared += max(h.Size, 0); declared > int64(len(data)) {
			return bad("entry %q: the entries claim more bytes than the archive holds", name)
		}
		e := &entry{typ: h.Typeflag, size: h.Size}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeDir:
		case tar.TypeSymlink, tar.TypeLink:
			target := h.Linkname
			if h.Typeflag == tar.TypeSymlink {
				// Relative to the link's own directory; an absolute
				// target would name a host path.
				if path.IsAbs(target) {
					return bad("entry %q links to the absolute path %q", name, target)
				}
				target = path.Join(path.Dir(name), target)
			}
			if target, err = cleanName(target); err != nil || target == "" {
				return bad("entry %q links to %q, outside the archive", name, h.Linkname)
			}
			e.link = target
		default:
			return bad("entry %q is of type %q: only files, directories and links belong in an image archive", name, h.Typeflag)
		}
		if h.Typeflag == tar.TypeReg && (name == "manifest.json" || name == "index.json" || strings.HasSuffix(name, ".json") || strings.HasPrefix(name, "blobs/")) && h.Size <= maxConfigBytes {
			if e.data, err = io.ReadAll(tr); err != nil {
				return bad("entry %q: %v", name, err)
			}
		}
		entries[name] = e
		order = append(order, name)
	}
	// resolve follows links to a regular file, at most a few hops.
	resolve := func(name string) (*entry, error) {
		for range 8 {
			e, ok := entries[name]
			if !ok {
				return nil, fmt.Errorf("%q is not in the archive", name)
			}
			if e.typ == tar.TypeReg {
				return e, nil
			}
			if e.link == "" {
				return nil, fmt.Errorf("%q is not a file", name)
			}
			name = e.link
		}
		return nil, fmt.Errorf("%q: too many links", name)
	}

	me, ok := entries["manifest.json"]
	if !ok || me.typ != tar.TypeReg {
		return bad("no manifest.json: this is not an image archive from `docker save`")
	}
	if me.size > maxManifestBytes {
		return bad("manifest.json is %d bytes, above %d", me.size, maxManifestBytes)
	}
	var manifest []manifestEntry
	if err := json.Unmarshal(me.data, &manifest); err != nil {
		return bad("manifest.json: %v", err)
	}
	if len(manifest) != 1 {
		return bad("manifest.json lists %d images; an archive for a job holds exactly one", len(manifest))
	}
	m := manifest[0]
	if len(m.Layers) == 0 || len(m.Layers) > maxLayers {
		return bad("the image has %d layers; want 1 to %d", len(m.Layers), maxLayers)
	}
	for _, l := range m.Layers {
		name, err := cleanName(l)
		if err != nil || name == "" {
			return bad("layer %q: not a name inside the archive", l)
		}
		if _, err := resolve(name); err != nil {
			return bad("layer %v", err)
		}
	}
	cname, err := cleanName(m.Config)
	if err != nil || cname == "" {
		return bad("config %q: not a name inside the archive", m.Config)
	}
	ce, err := resolve(cname)
	if err != nil {
		return bad("config %v", err)
	}
	if ce.size > maxConfigBytes || ce.data == nil {
		return bad("the image config is %d bytes, above %d", ce.size, maxConfigBytes)
	}
	sum := sha256.Sum256(ce.data)
	digest := hex.EncodeToString(sum[:])
	// Both layouts name the config by its digest ("<hex>.json",
	// "blobs/sha256/<hex>"): a config that does not hash to its name was
	// tampered with.
	if base := strings.TrimSuffix(path.Base(cname), ".json"); base != digest {
		return bad("the image config %q has digest sha256:%s, not the one its name says", cname, digest)
	}
	var cfg struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	}
	if err := json.Unmarshal(ce.data, &cfg); err != nil {
		return bad("the image config: %v", err)
	}
	if cfg.OS == "" || cfg.Architecture == "" {
		return bad("the image config names no os and architecture")
	}

	sanitized, err := sanitize(data)
	if err != nil {
		return bad("%v", err)
	}
	return &Archive{
		ImageID:      "sha256:" + digest,
		OS:           cfg.OS,
		Architecture: cfg.Architecture,
		Layers:       len(m.Layers),
		sanitized:    sanitized,
	}, nil
}

// cleanName turns an archive entry name into a clean relative path, or
// says why it would leave the archive.
func cleanName(name string) (string, error) {
	if len(name) > maxNameBytes {
		return "", fmt.Errorf("name longer than %d bytes", maxNameBytes)
	}
	if strings.ContainsAny(name, "\\\x00") {
		return "", errors.New("backslash or NUL in the name")
	}
	if path.IsAbs(name) {
		return "", errors.New("absolute name")
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", errors.New(`".." in the name`)
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", nil
	}
	return clean, nil
}

// sanitize rewrites the archive without the names it would give the
// image: manifest.json loses RepoTags, the repositories file goes, and
// index.json (OCI layout) loses its annotations, which carry names too.
func sanitize(data []byte) ([]byte, error) {
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		name, _ := cleanName(h.Name)
		var body []byte
		switch name {
		case "repositories":
			continue
		case "manifest.json":
			var manifest []map[string]any
			raw, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			if err := json.Unmarshal(raw, &manifest); err != nil {
				return nil, fmt.Errorf("manifest.json: %v", err)
			}
			for _, m := range manifest {
				delete(m, "RepoTags")
			}
			if body, err = json.Marshal(manifest); err != nil {
				return nil, err
			}
		case "index.json":
			var index map[string]any
			raw, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			if err := json.Unmarshal(raw, &index); err != nil {
				return nil, fmt.Errorf("index.json: %v", err)
			}
			if ms, ok := index["manifests"].([]any); ok {
				for _, m := range ms {
					if m, ok := m.(map[string]any); ok {
						delete(m, "annotations")
					}
				}
			}
			delete(index, "annotations")
			if body, err = json.Marshal(index); err != nil {
				return nil, err
			}
		default:
			if err := tw.WriteHeader(h); err != nil {
				return nil, err
			}
			if _, err := io.Copy(tw, tr); err != nil {
				return nil, err
			}
			continue
		}
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
