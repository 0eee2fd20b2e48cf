#!/usr/bin/env bash
# GPU backend check and benchmark (docs/gpu.md). Two steps:
#
#   bench/gpu/run.sh publish        # here, with the .NET SDK: self-contained build into .gpu/ (ignored by git)
#   bench/gpu/run.sh run [OUTDIR]   # on the GPU machine (no .NET runtime there): unpack and run
#
# `run` writes log.txt and results.json (parity with the CPU engine on small random models,
# then device vs CPU-engine timings of a 16-block 64-channel SRResNet on one LR image) to
# OUTDIR (default $OUT, else out/gpu). Extra arguments after OUTDIR go to RefQsr.GpuBench,
# e.g. --lr 320x180 --repeats 5 --cpu-threads 16. Exit code 1 when a parity check fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
archive=.gpu/gpubench.tar.xz

case "${1:-}" in
  publish)
    rm -rf .gpu/app
    dotnet publish bench/RefQsr.GpuBench -c Release -r linux-x64 --self-contained -o .gpu/app -m:1
    tar -cJf "$archive" -C .gpu/app .
    rm -rf .gpu/app
    ls -l "$archive"
    ;;
  run)
    out="${2:-${OUT:-out/gpu}}"
    shift $(( $# >= 2 ? 2 : 1 ))
    [ -f "$archive" ] || { echo "run.sh: $archive not found: run 'bench/gpu/run.sh publish' first and send .gpu/ along" >&2; exit 2; }
    mkdir -p "$out" /tmp/gpubench
    tar -xJf "$archive" -C /tmp/gpubench
    (nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true) | tee "$out/nvidia-smi.txt"
    /tmp/gpubench/RefQsr.GpuBench "$out" --device cuda "$@"
    ;;
  *)
    echo "usage: bench/gpu/run.sh publish | run [OUTDIR] [RefQsr.GpuBench options]" >&2
    exit 2
    ;;
esac
