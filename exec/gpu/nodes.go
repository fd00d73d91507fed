package gpu

import (
	"bufio"
	"bytes"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// DriverInfoDir is where the NVIDIA driver describes each GPU it drives,
// one directory per PCI address holding an "information" file.
const DriverInfoDir = "/proc/driver/nvidia/gpus"

// ControlNodes are the device nodes every CUDA program opens besides its
// GPUs' own, where the driver made them: they give no access to a GPU by
// themselves.
var ControlNodes = []string{"nvidiactl", "nvidia-uvm", "nvidia-uvm-tools"}

// NodeName is the name under /dev of the device node that drives d:
// nvidia<minor>, the minor number as the driver reported it (ApplyMinors),
// else the index, which the driver numbers alike unless told otherwise.
// It is "" for a MIG instance, which is reached through its parent's node
// and capability nodes under /dev/nvidia-caps that no process sandbox
// binds: MIG instances go to containers only.
func (d Device) NodeName() string {
	switch {
	case d.MIG:
		return ""
	case d.Minor != "":
		return "nvidia" + d.Minor
	}
	if _, err := strconv.Atoi(d.Index); err != nil {
		return ""
	}
	return "nvidia" + d.Index
}

// ReadMinors maps each GPU's UUID to its device minor number, from the
// driver's information files in fsys (DriverInfoDir as an fs.FS). A
// machine without the driver has none: an empty map.
func ReadMinors(fsys fs.FS) map[string]string {
	out := map[string]string{}
	files, _ := fs.Glob(fsys, "*/information")
	for _, f := range files {
		b, err := fs.ReadFile(fsys, path.Clean(f))
		if err != nil {
			continue
		}
		uuid, minor := parseInformation(b)
		if uuid != "" && minor != "" {
			out[uuid] = minor
		}
	}
	return out
}

func parseInformation(b []byte) (uuid, minor string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "GPU UUID":
			uuid = v
		case "Device Minor":
			if _, err := strconv.ParseUint(v, 10, 8); err == nil {
				minor = v
			}
		}
	}
	return uuid, minor
}

// ApplyMinors sets the Minor of every device the driver numbered.
func ApplyMinors(devs []Device, minors map[string]string) []Device {
	out := append([]Device(nil), devs...)
	for i := range out {
		if m, ok := minors[out[i].UUID]; ok && !out[i].MIG {
			out[i].Minor = m
		}
	}
	return out
}
