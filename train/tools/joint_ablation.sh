#!/usr/bin/env bash
# Joint RefQSR training against its baseline trained as long (docs/results.md, "Joint
# training, measured"). From a query-only RefQSR run and its QAT baseline, trains STEPS more
# steps (fresh Adam everywhere) of:
#   cont     the QAT baseline (train_qat.py --resume)
#   joint    the paper's loss, every parameter (train_refqsr.py --train all)
#   ref      reference terms only (--loss ref)        query     query terms only (--loss query)
#   query-d  query terms, matching detached (--loss query --detach-match on)
#   joint-d  the paper's loss, matching detached (--detach-match on)
# then measures each with the engine at 72 px (scripts/eval-checkpoints.sh). Set5 and BSD100
# are one patch per image there, so a RefQSR model's numbers on them are its reference path.
#   bash train/tools/joint_ablation.sh [RUN=train/runs/ddtb-refqsr-4-3] [QAT=train/runs/ddtb-w4a4] [STEPS=80] [VARIANTS...]
# Runs go to out/joint-ablation/<variant> (one thread each, two at a time; EXTRA_ARGS are
# passed to every trainer, e.g. "--device cuda --threads 4"; SETS="Set5 Kodak24" measures fewer sets).
set -euo pipefail
cd "$(dirname "$0")/../.."
py=/usr/bin/python3
run=${1:-train/runs/ddtb-refqsr-4-3}; qat=${2:-train/runs/ddtb-w4a4}; steps=${3:-80}
shift $(( $# < 3 ? $# : 3 ))
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(cont joint ref query query-d joint-d)
out=out/joint-ablation
mkdir -p "$out"
extra=(${EXTRA_ARGS:---threads 1})
step_of() { $py -c "import torch,sys; print(torch.load(sys.argv[1], map_location='cpu')['step'])" "$1"; }
start_rq=$(step_of "$run/latest.pt"); start_qat=$(step_of "$qat/latest.pt")

launch() {   # variant -> background training in $out/<variant>
  local v=$1 d="$out/$1"
  rm -rf "$d"; mkdir -p "$d"
  if [ "$v" = cont ]; then
    cp "$qat/latest.pt" "$d/"
    cp "$run/teacher.pt" "$d/"   # the QAT runs ship no teacher.pt; the RefQSR run's is the same FP32 model
    $py train/train_qat.py --out "$d" --resume --max-steps $((start_qat + steps)) --no-val "${extra[@]}" > "$d/train.out" 2>&1
    return
  fi
  cp "$run"/{latest.pt,teacher.pt,clustblock.pt} "$d/"   # no latest_opt.pt: Adam starts fresh, as for cont
  local args=(--train all)
  case "$v" in
    joint) ;;
    ref) args+=(--loss ref);;
    query) args+=(--loss query);;
    query-d) args+=(--loss query --detach-match on);;
    joint-d) args+=(--detach-match on);;
    *) echo "unknown variant $v" >&2; return 2;;
  esac
  $py train/train_refqsr.py --out "$d" --resume "${args[@]}" --max-steps $((start_rq + steps)) --no-val "${extra[@]}" \
    > "$d/train.out" 2>&1
}

pending=("${variants[@]}")
while [ ${#pending[@]} -gt 0 ]; do
  launch "${pending[0]}" & p1=$!
  if [ ${#pending[@]} -gt 1 ]; then launch "${pending[1]}" & p2=$!; wait $p2; fi
  wait $p1
  pending=("${pending[@]:2}")
done
bash scripts/eval-checkpoints.sh ${SETS:+--sets "$SETS"} "$run" "$qat" $(for v in "${variants[@]}"; do echo "$out/$v"; done)
