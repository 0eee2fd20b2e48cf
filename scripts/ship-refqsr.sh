#!/usr/bin/env bash
# Exports every RefQSR run in train/runs/<method>-refqsr-<high>-<low> to
# weights/srresnet-<method>-refqsr-<high>-<low>.safetensors, measures it with the engine at
# the paper's 72-px patches (scripts/results-table.sh, which also rewrites docs/results.md)
# and writes its model card.
#   bash scripts/ship-refqsr.sh [run ...]      (needs ../shared/data and /usr/bin/python3 with torch)
set -euo pipefail
cd "$(dirname "$0")/.."
py=/usr/bin/python3
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(train/runs/*-refqsr-*)
for run in "${runs[@]}"; do
  run=${run%/}
  [ -f "$run/latest.pt" ] || { echo "skip $run: no latest.pt"; continue; }
  $py train/export.py "$run/latest.pt" "weights/srresnet-$(basename "$run").safetensors"
done
bash scripts/results-table.sh --threads "${THREADS:-2}"
for run in "${runs[@]}"; do
  run=${run%/}
  [ -f "$run/latest.pt" ] || continue
  name="srresnet-$(basename "$run")"
  IFS=- read -r method _ high low <<< "$(basename "$run")"
  base="srresnet-$method-w${high}a${high}"
  read -r steps mode device < <($py -c "import torch,sys; st=torch.load(sys.argv[1], map_location='cpu'); print(st['step'], (st.get('args') or {}).get('train') or 'all', st.get('device') or 'cpu')" "$run/latest.pt" 2>/dev/null)
  case "$device" in cuda*) where="GPU";; *) where="CPU";; esac
  if [ "$mode" = query ]; then
    how="$steps query-only RefQSR training steps on the $where (\`train_refqsr.py --train query\`: only the qlow bounds and the RefER blocks learn, on L1 + 1000 x AT of the query output; the shared weights, BN, PReLU and b_high quantizers stay \`$base\`'s, so its reference path is \`$base\` bit for bit and the difference to it is the queries alone)"
  else
    how="$steps RefQSR training steps on the $where (L1 + 1000 x AT on both outputs, every parameter, as in the paper)"
  fi
  $py train/make_card.py "$name" --run "$run" --eval out/eval72 --patch 72 --note \
    "${method^^}-RefQSR $high-$low: references at $high bits; queries at $low-bit activations (b_low) with b_medium weights in the blocks before the RefER blocks, RefER blocks in place of the last two blocks; tau 0.5. Initialised from \`$base\` (qlow and RefER bounds calibrated, RefER convs from the replaced blocks), then $how, with ClustBlock-mined pairs and soft-argmax RefER. That is far too short to train RefQSR: these numbers show the mechanism end to end, not what a trained model reaches (see docs/results.md). Measured at the paper's 72-px patches, unlike the baseline cards (96 px)."
done
