package docker

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// An image reference names an image by digest: "sha256:<hex>" (an image
// ID: the digest of its config) or "name@sha256:<hex>" (a repository
// digest: the digest of its manifest, as a registry serves it). Tags are
// refused: they can be moved to another image.
var (
	digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	nameRE   = regexp.MustCompile(`^[a-z0-9]+(?:[._-]{1,2}[a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-]{1,2}[a-z0-9]+)*)*$`)
)

// maxReferenceBytes bounds a module read as a reference: anything longer
// is an archive or nothing.
const maxReferenceBytes = 512

// parseReference checks ref names an image by digest and returns it
// trimmed.
func parseReference(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if digestRE.MatchString(ref) {
		return ref, nil
	}
	name, digest, ok := strings.Cut(ref, "@")
	if ok && digestRE.MatchString(digest) && len(name) <= 255 && nameRE.MatchString(strings.ToLower(name)) && name == strings.ToLower(name) {
		return ref, nil
	}
	if strings.Contains(ref, ":") && !ok && nameRE.MatchString(strings.Split(ref, ":")[0]) {
		return "", fmt.Errorf("%q names the image by tag, which can be moved to another image; name it by digest (docker images --digests, or its ID: docker inspect -f '{{.Id}}')", ref)
	}
	return "", errors.New(`not an image reference by digest ("sha256:<64 hex>" or "name@sha256:<64 hex>")`)
}

// asReference returns the module as an image reference when it is one: a
// short single line that parses as a reference by digest.
func asReference(module []byte) (string, bool) {
	if len(module) > maxReferenceBytes {
		return "", false
	}
	ref, err := parseReference(string(module))
	return ref, err == nil
}
