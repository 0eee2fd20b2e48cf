#!/usr/bin/env bash
# Exports the trainer's runs into weights/, writes their parity fixtures, evaluates them
# with the engine and writes their model cards.
#   bash scripts/ship-models.sh            (needs ../shared/data and /usr/bin/python3 with torch)
# Runs: train/runs/srresnet-fp32 -> srresnet-fp32; train/runs/<method>-w<b>a<b> -> srresnet-<method>-w<b>a<b>.
set -euo pipefail
cd "$(dirname "$0")/.."
py=/usr/bin/python3
shipped=()
if [ -f train/runs/srresnet-fp32/best.pt ] || [ -f train/runs/srresnet-fp32/latest.pt ]; then
  ck=train/runs/srresnet-fp32/latest.pt
  $py train/export.py "$ck" weights/srresnet-fp32.safetensors
  rm -rf tests/fixtures/srresnet-fp32
  $py train/make_fixtures.py weights/srresnet-fp32.safetensors --name srresnet-fp32
  shipped+=(srresnet-fp32:train/runs/srresnet-fp32)
fi
for run in train/runs/ddtb-w*a* train/runs/pams-w*a*; do
  [ -f "$run/latest.pt" ] || continue
  name="srresnet-$(basename "$run")"
  $py train/export.py "$run/latest.pt" "weights/$name.safetensors"
  rm -rf "tests/fixtures/$name"
  $py train/make_fixtures.py "weights/$name.safetensors" --name "$name"
  shipped+=("$name:$run")
done
names=()
for s in "${shipped[@]}"; do names+=("${s%%:*}"); done
bash scripts/eval-models.sh --threads "${THREADS:-2}" "${names[@]}"
for s in "${shipped[@]}"; do
  $py train/make_card.py "${s%%:*}" --run "${s#*:}"
done
