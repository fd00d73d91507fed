package process

import "runtime"

const runtimeArch = runtime.GOARCH
