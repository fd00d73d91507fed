// Package gpu finds a provider's NVIDIA GPUs and hands them to jobs whole.
//
// Detect runs nvidia-smi (--query-gpu=index,uuid,name,memory.total,
// driver_version and -L) and parses what it prints: every GPU, and for a
// GPU partitioned with MIG its instances instead (each is a hardware
// partition with its own memory, and is given to one job like a GPU). No
// driver, or nvidia-smi missing, is ErrNoDriver with the reason, so a
// node can say at start why it sells no GPU. The parsers are tested on
// recorded outputs in testdata: several models, several GPUs, MIG, memory
// the driver does not report, a driver's complaint and nothing at all.
//
// Each device is sold under the capability gpu/nvidia/<model>, the model
// normalised from the driver's name ("NVIDIA A100-SXM4-80GB" is
// a100-sxm4-80gb; a MIG instance adds -mig-<profile>). A job that asks for
// model "a100" is served by any a100-… device (Matches).
//
// An Allocator never gives one device to two jobs: Acquire takes whole
// devices for a job (the smallest that fit first) or fails with ErrUnfit
// (this provider can never serve the request: no_gpu, gpu_model, vram —
// the reasons a provider declines with) or ErrBusy (not now); the
// Allocation's Release gives them back and is safe to call on every exit
// path. Env names the devices for CUDA_VISIBLE_DEVICES; a container
// executor passes the same UUIDs as a device request.
package gpu
