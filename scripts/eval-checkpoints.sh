#!/usr/bin/env bash
# Measures training checkpoints with the engine, without shipping them: exports each
# train/runs/<run>/latest.pt (or a .pt given by path) to
# out/checkpoints/<run>-<step>-<hash>.safetensors (hash: the checkpoint file's first 10 hex
# digits of SHA-256, so two runs of the same folder name and step never share results) and runs `refqsr eval --patch 72 --json` on Set5, Set14, BSD100 and Kodak24, then prints
# PSNR and BitOPs per set. For experiments (e.g. a baseline trained on beside a RefQSR run);
# shipped models go through ship-models.sh / ship-refqsr.sh instead.
#   bash scripts/eval-checkpoints.sh [--threads N] [--sets "Set5 Kodak24"] CKPT_OR_RUN ...
set -euo pipefail
cd "$(dirname "$0")/.."
py=/usr/bin/python3
threads=2
sets="Set5 Set14 BSD100 Kodak24"
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2;;
    --sets) sets=$2; shift 2;;
    -*) echo "unknown option $1" >&2; exit 2;;
    *) break;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--threads N] [--sets \"S ...\"] CKPT_OR_RUN ..." >&2; exit 2; }
out=out/checkpoints
mkdir -p "$out"
dotnet build src/RefQsr.Cli -c Release -m:1 -v q -nologo >/dev/null
refqsr=src/RefQsr.Cli/bin/Release/net10.0/refqsr
names=()
for c in "$@"; do
  [ -d "$c" ] && c="${c%/}/latest.pt"
  [ -f "$c" ] || { echo "no checkpoint: $c" >&2; exit 2; }
  step=$($py -c "import torch,sys; print(torch.load(sys.argv[1], map_location='cpu')['step'])" "$c")
  name="$(basename "$(dirname "$c")")-$step"
  key="$name-$(sha256sum "$c" | cut -c1-10)"   # cached exports and results belong to this file's content
  names+=("$name=$key")
  # written under a temporary name and renamed, so an interrupted run leaves nothing to reuse
  if [ ! -s "$out/$key.safetensors" ]; then
    $py train/export.py "$c" "$out/$key.tmp.safetensors" >/dev/null
    mv "$out/$key.tmp.safetensors" "$out/$key.safetensors"
  fi
  for s in $sets; do
    if [ ! -s "$out/$key-$s.json" ]; then
      "$refqsr" eval --data "../shared/data/$s" --model "$out/$key.safetensors" --patch 72 --threads "$threads" \
        --json > "$out/$key-$s.json.tmp"
      mv "$out/$key-$s.json.tmp" "$out/$key-$s.json"
    fi
  done
done
$py - "$out" "$sets" "${names[@]}" <<'PY'
import json, os, sys
out, sets, names = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
print("| checkpoint | " + " | ".join(f"{s} PSNR | BitOPs (G)" for s in sets) + " |")
print("|---|" + "---|---|" * len(sets))
for entry in names:
    n, key = entry.split("=", 1)
    cells = []
    for s in sets:
        r = json.load(open(os.path.join(out, f"{key}-{s}.json")))
        cells.append(f"{r['psnr']:.3f} | {r['bitops_g']:.3f}")
    print(f"| {n} | " + " | ".join(cells) + " |")
PY
