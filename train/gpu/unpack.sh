#!/usr/bin/env bash
# Puts what train/gpu/session.sh returned (the files of its OUT folder) into train/runs:
# the FP32 and QAT tars over their run folders, then each RefQSR delta rebuilt against the
# QAT model and FP32 teacher just unpacked (train/gpu/refqsr_delta.py checks both by
# fingerprint). A RefQSR run folder is replaced whole, only once its rebuild has worked.
#
#   bash train/gpu/unpack.sh DIR        (DIR: the device tool's files_at folder)
#
# Run `bash scripts/gpu-tree.sh restore` first, then ship (train/README.md, "GPU machine").
set -euo pipefail
dir=${1:?usage: unpack.sh DIR}
cd "$(dirname "$0")/../.."
py=${PYTHON:-/usr/bin/python3}
shopt -s nullglob
for t in "$dir"/*.tar; do
  [ "$(basename "$t")" = refqsr.tar ] && continue
  tar -xf "$t" -C train/runs
  echo "unpacked $(basename "$t")"
done
if [ -f "$dir/refqsr.tar" ]; then
  # the FP32 checkpoint session.sh gave the QAT runs, chosen by the same rule from the same files
  fp32=$($py train/tools/fp32_model.py train/runs/srresnet-fp32)
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  tar -xf "$dir/refqsr.tar" -C "$tmp"
  for b in "$tmp"/*.delta.pt; do
    run=$(basename "$b" .delta.pt)
    IFS=- read -r m _ h _ <<< "$run"
    # its teacher: the FP32 model above when stages 1 or 2 ran; with both skipped, the one the
    # run resumed with (its own teacher.pt), which may be an older FP32 model
    teachers=(--teacher "$fp32")
    for t in "train/runs/$m-w${h}a${h}/teacher.pt" "train/runs/$run/teacher.pt"; do
      [ -f "$t" ] && teachers+=(--teacher "$t")
    done
    $py train/gpu/refqsr_delta.py unpack "$b" --qat "train/runs/$m-w${h}a${h}/latest.pt" \
      "${teachers[@]}" --clustblock train/runs/clustblock/latest.pt --out "$tmp/$run"
    if [ -f "$tmp/$run.stdout.log" ]; then cp "$tmp/$run.stdout.log" "$tmp/$run/stdout.log"; fi
    rm -rf "train/runs/$run"
    mv "$tmp/$run" "train/runs/$run"
  done
fi
