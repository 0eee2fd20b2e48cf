#!/usr/bin/env bash
# Exports the trainer's runs into weights/, writes their parity fixtures, evaluates them
# with the engine and writes their model cards.
#   bash scripts/ship-models.sh [RUN ...]   (needs ../shared/data and /usr/bin/python3 with torch)
# Runs: train/runs/srresnet-fp32 -> srresnet-fp32; train/runs/<method>-w<b>a<b> -> srresnet-<method>-w<b>a<b>.
# RUN names some of them (e.g. `srresnet-fp32 ddtb-w8a8`); without, every run is shipped.
set -euo pipefail
cd "$(dirname "$0")/.."
py=/usr/bin/python3
runs=("$@")
if [ ${#runs[@]} -eq 0 ]; then
  runs=(srresnet-fp32)
  for run in train/runs/ddtb-w*a* train/runs/pams-w*a*; do runs+=("$(basename "$run")"); done
fi
shipped=()
for run in "${runs[@]}"; do
  dir=train/runs/$run
  [ -f "$dir/latest.pt" ] || { echo "$dir: no latest.pt" >&2; exit 1; }
  case $run in
    srresnet-fp32)
      name=srresnet-fp32
      # its weight average (ema.pt) when its last validation scored that higher (train/tools/fp32_model.py)
      ck=$($py train/tools/fp32_model.py "$dir")
      $py train/export.py "$ck" "weights/$name.safetensors" --onnx "weights/$name.onnx" ;;
    ddtb-w*a* | pams-w*a*)
      name=srresnet-$run
      $py train/export.py "$dir/latest.pt" "weights/$name.safetensors" ;;
    *) echo "$run: not an FP32 or QAT run (RefQSR runs: scripts/ship-refqsr.sh)" >&2; exit 1 ;;
  esac
  rm -rf "tests/fixtures/$name"
  $py train/make_fixtures.py "weights/$name.safetensors" --name "$name"
  shipped+=("$name:$dir")
done
names=()
for s in "${shipped[@]}"; do names+=("${s%%:*}"); done
bash scripts/eval-models.sh --threads "${THREADS:-2}" "${names[@]}"
for s in "${shipped[@]}"; do
  $py train/make_card.py "${s%%:*}" --run "${s#*:}"
done
