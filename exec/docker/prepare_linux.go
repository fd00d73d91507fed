//go:build linux

package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// image is what a run needs to know of its image.
type image struct {
	id         string
	entrypoint []string
	cmd        []string
	env        []string
	workdir    string
}

// prepared is the outcome of preparing a module, shared by the runs that
// ask for it at once and remembered for later ones.
type prepared struct {
	done chan struct{}
	img  *image
	bad  string // why the module is no image this executor runs
	err  error  // the executor's own failure: not remembered
}

// prepare turns a job's module into an image present in the engine:
// an allowed reference, or an archive loaded once and remembered by the
// module's CID. A module that can never run gives a reason in bad.
func (e *Executor) prepare(ctx context.Context, cid string, module []byte) (img *image, bad string, err error) {
	e.mu.Lock()
	p := e.prepped[cid]
	if p == nil {
		p = &prepared{done: make(chan struct{})}
		e.prepped[cid] = p
		e.mu.Unlock()
		p.img, p.bad, p.err = e.prepareNow(ctx, module)
		if p.err != nil {
			e.mu.Lock()
			delete(e.prepped, cid)
			e.mu.Unlock()
		}
		close(p.done)
	} else {
		e.mu.Unlock()
		select {
		case <-p.done:
		case <-ctx.Done():
			return nil, "", context.Cause(ctx)
		}
		if p.err != nil { // the first try failed on its own: try again
			return e.prepare(ctx, cid, module)
		}
	}
	return p.img, p.bad, p.err
}

func (e *Executor) prepareNow(ctx context.Context, module []byte) (*image, string, error) {
	if ref, ok := asReference(module); ok {
		if !slices.Contains(e.cfg.AllowedImages, ref) {
			return nil, fmt.Sprintf("image %s is not on this provider's allow-list; ship the image as an archive (docker save) instead", ref), nil
		}
		img, err := e.inspect(ctx, ref)
		if isNotFound(err) {
			return nil, "", fmt.Errorf("exec/docker: allowed image %s is not in the engine; load or pull it (docker load -i image.tar)", ref)
		}
		return img, "", err
	}
	if len(module) <= maxReferenceBytes {
		if _, err := parseReference(string(module)); err != nil && strings.Contains(err.Error(), "by tag") {
			return nil, err.Error(), nil
		}
	}
	if !e.cfg.RunJobImages {
		return nil, "this provider runs only the images on its allow-list, named by digest (sha256:<hex> or name@sha256:<hex>)", nil
	}
	a, err := ParseArchive(module, e.cfg.MaxArchiveBytes)
	if err != nil {
		return nil, fmt.Sprintf("neither an image reference by digest nor a valid image archive: %v", err), nil
	}
	if a.OS != "linux" || a.Architecture != e.arch {
		return nil, fmt.Sprintf("the image is for %s/%s; this provider runs linux/%s", a.OS, a.Architecture, e.arch), nil
	}
	img, err := e.inspect(ctx, a.ImageID)
	if err == nil {
		return img, "", nil // loaded before, by this executor or another
	}
	if !isNotFound(err) {
		return nil, "", err
	}
	if err := e.load(ctx, a); err != nil {
		return nil, "", err
	}
	img, err = e.inspect(ctx, a.ImageID)
	if isNotFound(err) {
		return nil, fmt.Sprintf("the engine loaded the archive but holds no image %s: the archive's config and layers disagree", a.ImageID), nil
	}
	return img, "", err
}

// load hands the sanitized archive to the engine and reads its progress
// to the end, where a failed load says why.
func (e *Executor) load(ctx context.Context, a *Archive) error {
	res, err := e.cli.ImageLoad(ctx, bytes.NewReader(a.sanitized), client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("exec/docker: load image %s: %w", a.ImageID, err)
	}
	defer res.Close()
	dec := json.NewDecoder(io.LimitReader(res, 1<<20))
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("exec/docker: load image %s: reading the engine's answer: %w", a.ImageID, err)
		}
		if m.Error != nil {
			return fmt.Errorf("exec/docker: load image %s: %w", a.ImageID, errors.New(m.Error.Message))
		}
	}
}

func (e *Executor) inspect(ctx context.Context, ref string) (*image, error) {
	res, err := e.cli.ImageInspect(ctx, ref)
	if err != nil {
		return nil, err
	}
	img := &image{id: res.ID}
	if c := res.Config; c != nil {
		img.entrypoint, img.cmd, img.env, img.workdir = c.Entrypoint, c.Cmd, c.Env, c.WorkingDir
	}
	return img, nil
}
