// Package native holds the toolbox (internal/samples/toolbox) built as a
// static Linux executable, committed so that the executors that run native
// programs (exec/process, exec/docker) and the native side of the speed
// benchmarks need no Go toolchain at test time. scripts/gen-samples
// rebuilds it reproducibly (CGO_ENABLED=0, -trimpath, no build ID);
// `scripts/gen-samples --check` fails when it no longer matches its source.
//
// It is a separate package from samples so that only what runs native
// programs embeds its megabytes. Toolbox is nil on architectures it is not
// built for; tests skip there, saying so.
package native
