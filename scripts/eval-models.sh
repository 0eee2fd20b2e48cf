#!/usr/bin/env bash
# Evaluates every shipped SR model on Set5, Set14 and BSD100 (SPEC §6, x4, 96-px patches)
# with `refqsr eval --json`, and prints the README's model table.
#   bash scripts/eval-models.sh [--threads N] [models...]     (needs ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2
if [ "${1:-}" = "--threads" ]; then threads=$2; shift 2; fi
data=../shared/data
out=${EVAL_OUT:-out/eval}
mkdir -p "$out"
dotnet build src/RefQsr.Cli -c Release -m:1 -v q -nologo >/dev/null
refqsr=src/RefQsr.Cli/bin/Release/net10.0/refqsr
models=("$@")
if [ ${#models[@]} -eq 0 ]; then
  for f in weights/srresnet-*.safetensors; do models+=("$(basename "$f" .safetensors)"); done
fi
for m in "${models[@]}"; do
  for s in Set5 Set14 BSD100; do
    # a result is kept only while it is newer than the model file it measured
    [ -s "$out/$m-$s.json" ] && [ "$out/$m-$s.json" -nt "weights/$m.safetensors" ] || "$refqsr" eval --data "$data/$s" --model "$m" --threads "$threads" --json > "$out/$m-$s.json"
  done
done
python3 - "$out" "${models[@]}" <<'PY'
import json, sys
out, models = sys.argv[1], sys.argv[2:]
print("| model | BitOPs (G), Set14 | FQR | Set5 PSNR / SSIM | Set14 PSNR / SSIM | BSD100 PSNR / SSIM |")
print("|---|---|---|---|---|---|")
for m in models:
    r = {s: json.load(open(f"{out}/{m}-{s}.json")) for s in ("Set5", "Set14", "BSD100")}
    cells = [f"{r[s]['psnr']:.2f} / {r[s]['ssim']:.4f}" for s in ("Set5", "Set14", "BSD100")]
    print(f"| `{m}` | {r['Set14']['bitops_g']:.2f} | {r['Set14']['fqr']:.2f} | " + " | ".join(cells) + " |")
PY
