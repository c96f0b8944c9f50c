#!/usr/bin/env bash
# Cross-builds what scripts/device-check.sh runs on the GPU machine (which has no Go):
# a stripped siam binary and the CUDA package's test binary, into .devrun/ (ignored;
# pass it to the device tool with carry: [".devrun"]).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .devrun
export GOOS=linux GOARCH=amd64 CGO_ENABLED=0
go build -trimpath -ldflags='-s -w' -o .devrun/siam ./cmd/siam
go test -c -trimpath -ldflags='-s -w' -o .devrun/cuda.test ./kernels/cuda
ls -la .devrun
