package gpu

import (
	"context"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// replay answers nvidia-smi from recorded outputs in testdata.
func replay(t *testing.T, query, list string) Runner {
	t.Helper()
	read := func(name string) []byte {
		if name == "" {
			return nil
		}
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return func(_ context.Context, name string, args ...string) ([]byte, error) {
		if name != "nvidia-smi" {
			t.Fatalf("ran %s", name)
		}
		if len(args) == 1 && args[0] == "-L" {
			if list == "" {
				return nil, errors.New("exit status 6")
			}
			return read(list), nil
		}
		return read(query), nil
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name, query, list string
		want              []string // model@MiB per device, in order
		caps              []string
		err               string
	}{
		{name: "four A100s", query: "a100x4.csv",
			want: []string{"a100-sxm4-80gb@81920", "a100-sxm4-80gb@81920", "a100-sxm4-80gb@81920", "a100-sxm4-80gb@81920"},
			caps: []string{"gpu/nvidia/a100-sxm4-80gb"}},
		{name: "mixed models", query: "mixed.csv",
			want: []string{"geforce-rtx-4090@24564", "rtx-a6000@49140", "t4@15360"},
			caps: []string{"gpu/nvidia/geforce-rtx-4090", "gpu/nvidia/rtx-a6000", "gpu/nvidia/t4"}},
		{name: "H100", query: "h100.csv", want: []string{"h100-80gb-hbm3@81559"}},
		{name: "MIG: the partitioned GPU is sold as its instances", query: "mig.csv", list: "mig-list.txt",
			want: []string{"a100-sxm4-40gb-mig-3g.20gb@20480", "a100-sxm4-40gb-mig-2g.10gb@10240", "a100-sxm4-40gb-mig-1g.5gb@5120", "a100-sxm4-40gb@40960"}},
		{name: "memory not reported", query: "notsupported.csv", want: []string{"geforce-gtx-1050@0", "geforce-gtx-1050@4096"}},
		{name: "no GPU", query: "empty.csv"},
		{name: "a driver that cannot be reached", query: "garbage.csv", err: "couldn't communicate with the NVIDIA driver"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			devs, err := Detect(t.Context(), replay(t, tc.query, tc.list))
			if tc.err != "" {
				if !errors.Is(err, ErrNoDriver) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want ErrNoDriver saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range devs {
				got = append(got, d.Model+"@"+strconv.FormatInt(d.MemoryMiB, 10))
				if !strings.HasPrefix(d.UUID, "GPU-") && !strings.HasPrefix(d.UUID, "MIG-") {
					t.Errorf("device %+v has no UUID", d)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("devices %v, want %v", got, tc.want)
			}
			if tc.caps != nil {
				var caps []string
				for _, s := range Summarise(devs) {
					caps = append(caps, "gpu/nvidia/"+s.Model)
				}
				if strings.Join(caps, " ") != strings.Join(tc.caps, " ") {
					t.Fatalf("capabilities %v, want %v", caps, tc.caps)
				}
			}
		})
	}
}

func TestDetectWithoutNvidiaSMI(t *testing.T) {
	_, err := Detect(t.Context(), func(ctx context.Context, name string, args ...string) ([]byte, error) {
		return nil, &exec.Error{Name: name, Err: exec.ErrNotFound}
	})
	if !errors.Is(err, ErrNoDriver) || !strings.Contains(err.Error(), "not installed") {
		t.Fatalf("without nvidia-smi: %v, want ErrNoDriver saying it is not installed", err)
	}
}

func TestModelKey(t *testing.T) {
	for name, want := range map[string]string{
		"NVIDIA A100-SXM4-80GB":   "a100-sxm4-80gb",
		"NVIDIA GeForce RTX 4090": "geforce-rtx-4090",
		"Tesla T4":                "t4",
		"NVIDIA H100 80GB HBM3":   "h100-80gb-hbm3",
		"  NVIDIA  L4 ":           "l4",
		"3g.20gb":                 "3g.20gb",
	} {
		if got := ModelKey(name); got != want {
			t.Errorf("ModelKey(%q) = %q, want %q", name, got, want)
		}
	}
	if !Matches("a100-sxm4-80gb", "A100") || Matches("a1000", "a100") || !Matches("t4", "") {
		t.Error("Matches: a100 must take a100-…, not a1000; an empty model takes any")
	}
}

func fleet() []Device {
	return []Device{
		{UUID: "GPU-a", Model: "a100-sxm4-80gb", MemoryMiB: 81920},
		{UUID: "GPU-b", Model: "a100-sxm4-80gb", MemoryMiB: 81920},
		{UUID: "GPU-c", Model: "a100-sxm4-40gb", MemoryMiB: 40960},
		{UUID: "GPU-d", Model: "t4", MemoryMiB: 15360},
	}
}

func TestAllocatorWholeDevices(t *testing.T) {
	a := NewAllocator(fleet())
	// Smallest that fits first: a 30 GiB job takes the 40 GiB A100.
	one, err := a.Acquire("j1", Request{Count: 1, Model: "a100", MinMemMiB: 30 << 10})
	if err != nil || one.UUIDs()[0] != "GPU-c" {
		t.Fatalf("j1: %v %v, want GPU-c", one, err)
	}
	if env := one.Env(); env["CUDA_VISIBLE_DEVICES"] != "GPU-c" {
		t.Errorf("env %v", env)
	}
	two, err := a.Acquire("j2", Request{Count: 2, Model: "a100"})
	if err != nil || strings.Join(two.UUIDs(), ",") != "GPU-a,GPU-b" {
		t.Fatalf("j2: %v %v, want the two 80 GiB A100s", two, err)
	}
	if _, err := a.Acquire("j3", Request{Count: 1, Model: "a100"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("j3 while every A100 is held: %v, want ErrBusy", err)
	}
	for _, tc := range []struct {
		r      Request
		reason string
	}{
		{Request{Count: 1, Model: "h100"}, "gpu_model"},
		{Request{Count: 5}, "gpu_model"},
		{Request{Count: 1, Model: "t4", MinMemMiB: 16 << 10}, "vram"},
	} {
		if _, err := a.Acquire("jx", tc.r); !errors.Is(err, ErrUnfit) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%+v: %v, want ErrUnfit %s", tc.r, err, tc.reason)
		}
	}
	if r, _ := NewAllocator(nil).Fits(Request{Count: 1}); r != "no_gpu" {
		t.Errorf("no devices: reason %q, want no_gpu", r)
	}
	one.Release()
	one.Release() // twice is fine
	if a.Free() != 2 {
		t.Fatalf("free after releasing j1: %d, want 2", a.Free())
	}
	if got, err := a.Acquire("j3", Request{Count: 1, Model: "a100"}); err != nil || got.UUIDs()[0] != "GPU-c" {
		t.Fatalf("j3 after the release: %v %v", got, err)
	}
}

var seed = flag.Uint64("seed", 0, "seed of TestAllocatorNeverSharesADevice (0: random, printed)")

// TestAllocatorNeverSharesADevice acquires and releases at random from many
// goroutines and checks that no device is ever held by two jobs at once.
func TestAllocatorNeverSharesADevice(t *testing.T) {
	s := *seed
	if s == 0 {
		s = rand.Uint64()
	}
	t.Logf("seed %d (replay with -seed=%d)", s, s)
	a := NewAllocator(fleet())
	var mu sync.Mutex
	holder := map[string]string{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(s, uint64(w)))
			for i := 0; i < 500; i++ {
				job := strconv.Itoa(w*1000 + i)
				models := []string{"", "a100", "t4"}
				al, err := a.Acquire(job, Request{Count: 1 + rng.IntN(2), Model: models[rng.IntN(3)]})
				if err != nil {
					if !errors.Is(err, ErrBusy) && !errors.Is(err, ErrUnfit) {
						t.Error(err)
					}
					continue
				}
				mu.Lock()
				for _, id := range al.UUIDs() {
					if other, ok := holder[id]; ok {
						t.Errorf("device %s given to %s while %s holds it", id, job, other)
					}
					holder[id] = job
				}
				mu.Unlock()
				mu.Lock()
				for _, id := range al.UUIDs() {
					delete(holder, id)
				}
				mu.Unlock()
				al.Release()
			}
		}()
	}
	wg.Wait()
	if a.Free() != len(fleet()) {
		t.Fatalf("after every release %d devices free, want %d", a.Free(), len(fleet()))
	}
}

// TestMinors: device nodes are named by the minor number the driver
// reports, which need not follow nvidia-smi's index; without the
// driver's word, by the index; never for a MIG instance.
func TestMinors(t *testing.T) {
	b, err := os.ReadFile("testdata/a100x4.csv")
	if err != nil {
		t.Fatal(err)
	}
	devs, err := ParseQuery(b)
	if err != nil {
		t.Fatal(err)
	}
	// The driver's directories are PCI addresses (0000:07:00.0); the
	// recorded ones have dashes, which every file system takes.
	devs = ApplyMinors(devs, ReadMinors(os.DirFS("testdata/proc-gpus")))
	var got []string
	for _, d := range devs {
		got = append(got, d.NodeName())
	}
	if want := []string{"nvidia1", "nvidia0", "nvidia2", "nvidia3"}; !slices.Equal(got, want) {
		t.Errorf("node names %q, want %q", got, want)
	}
	if n := (Device{Index: "0/1", UUID: "MIG-x", MIG: true}).NodeName(); n != "" {
		t.Errorf("a MIG instance is named %q, want none", n)
	}
	if m := ReadMinors(os.DirFS("testdata/no-such-dir")); len(m) != 0 {
		t.Errorf("no driver: minors %v", m)
	}
}
