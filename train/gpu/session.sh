#!/usr/bin/env bash
# One GPU-machine session of the reference trainer (see ../shared/device/README.md):
# resumes the FP32 SRResNet, then trains the four shipped quantized models (DDTB/PAMS,
# w8a8/w4a4) from it in parallel, then the seven RefQSR models of Table 2 from those,
# query-only, in parallel. The runs live in WORK; every minute (and at the end) their
# latest checkpoints are packed into OUT as at most 7 tar files under 16 MiB each, because
# the device tool returns at most 8 files per call, 64 MiB in all, and clears OUT between
# calls (learned the hard way: a first run's 35 files came back as 8). The RefQSR runs come
# back as their differences to their QAT models (train/gpu/refqsr_delta.py: about 2 MiB
# each instead of 8). A run cut off by the time limit still returns the last packing.
# Unpack locally with
#   bash train/gpu/unpack.sh OUT
#
#   bash train/gpu/session.sh OUT [FP32_SECONDS] [QAT_SECONDS] [REFQSR_SECONDS] [DEVICE]
#
# A stage given 0 seconds is skipped (the next one then starts from what train/runs has;
# with both FP32 and QAT skipped, each RefQSR run resumes its train/runs checkpoint).
# REFQSR_MODELS (method:high:low ...) picks RefQSR models (default: all seven); DATA_DIR
# (default .gpu/data) and WORK (default /tmp/refqsr-runs) move the data and the runs.
# Needs (carried, git-ignored after scripts/gpu-tree.sh slim): .gpu/data
# (train/pack_gpu_data.py), train/runs/srresnet-fp32/latest.pt (with its ema.pt and log.csv,
# so the weight average and the log continue there) and, for the RefQSR stage,
# train/runs/clustblock/latest.pt. Locally, to test: DEVICE cpu (the fifth argument), tiny budgets,
# DATA_DIR from `train/pack_gpu_data.py --limit 3 --out DIR`.
set -u
out=${1:?usage: session.sh OUT [FP32_SECONDS] [QAT_SECONDS] [REFQSR_SECONDS] [DEVICE]}
fp_s=${2:-240}
qat_s=${3:-150}
rq_s=${4:-150}
dev=${5:-cuda}
py=${PYTHON:-python3}
# checkpoints hold plain dicts of config next to the tensors; PyTorch >= 2.6 would refuse them by default
export TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1
data=${DATA_DIR:-.gpu/data}
work=${WORK:-/tmp/refqsr-runs}
mkdir -p "$out" "$work/srresnet-fp32"
for f in latest.pt latest_opt.pt ema.pt log.csv; do [ -f "train/runs/srresnet-fp32/$f" ] && cp "train/runs/srresnet-fp32/$f" "$work/srresnet-fp32/"; done

pack() {
  for run in srresnet-fp32 ddtb-w8a8 ddtb-w4a4 pams-w8a8 pams-w4a4; do
    [ -f "$work/$run/latest.pt" ] || continue
    files=$(cd "$work" && ls "$run"/latest.pt "$run"/ema.pt "$run"/log.csv "$run"/curve.png "$run"/stdout.log 2>/dev/null)
    (cd "$work" && tar -cf "$out/$run.tar.tmp" $files) && mv "$out/$run.tar.tmp" "$out/$run.tar"
  done
  if [ -f "$work/srresnet-fp32/latest_opt.pt" ]; then
    (cd "$work" && tar -cf "$out/srresnet-fp32-opt.tar.tmp" srresnet-fp32/latest_opt.pt) && mv "$out/srresnet-fp32-opt.tar.tmp" "$out/srresnet-fp32-opt.tar"
  fi
  if ls -d "$work"/*-refqsr-*/ > /dev/null 2>&1; then
    # a folder and a tar name of this packing's own: the minutely packer and the final
    # packing may overlap
    local d tmp
    d=$(mktemp -d "$work/.deltas.XXXXXX") && tmp=$(mktemp "$out/refqsr.tar.XXXXXX") || return
    $py train/gpu/refqsr_delta.py pack-runs "$work" "$d" >> "$out/env.txt" 2>&1
    for run in "$work"/*-refqsr-*/; do
      cp "$run/stdout.log" "$d/$(basename "$run").stdout.log" 2>/dev/null
    done
    (cd "$d" && tar -cf "$tmp" .) && mv "$tmp" "$out/refqsr.tar"
    rm -rf "$d" "$tmp"
  fi
}
# train_for SECONDS MARGIN TRAINER [ARGS...]: a trainer (train/train_*.py) with a --minutes
# budget MARGIN seconds short of SECONDS, so it checkpoints and stops on its own, and a
# hard stop at SECONDS
train_for() {
  local s=$1 margin=$2
  shift 2
  timeout -k 10 "$s" $py "$@" --minutes "$(awk "BEGIN{print ($s - $margin) / 60}")"
}
(while sleep 60; do pack; done) &
packer=$!
{ nvidia-smi -L 2>/dev/null; $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } > "$out/env.txt" 2>&1
start=$(date +%s)

# 1. FP32: 48-px patches from here on (the CPU run used 24-px ones early), checkpoints every
#    minute. Batch 64 (FP32_BATCH) from the eleventh session: at batch 16 an H200 ran 40
#    steps/s, i.e. 25 ms a step for a few GFLOP, so it waits on launches, not on arithmetic;
#    a larger batch should cost little more per step (not measured yet: read its steps/s
#    in stdout.log). Learning rate 2e-4 (Adam), twice the CPU runs' 1e-4 for four times the batch.
fp_batch=${FP32_BATCH:-64}
[ "$fp_s" -gt 0 ] && train_for "$fp_s" 45 train/train_fp32.py --out "$work/srresnet-fp32" --resume --device "$dev" \
  --data "$data" --val-data "$data" --early-steps 0 --val-every 1000 --ckpt-minutes 1 --threads 4 --batch "$fp_batch" --lr 2e-4 \
  > "$work/srresnet-fp32/stdout.log" 2>&1
echo "fp32 done after $(( $(date +%s) - start )) s (exit $?)" >> "$out/env.txt"

pack
# the FP32 model the later stages start from and distil: its weight average (ema.pt) when the
# stage's last validation scored that higher, else latest.pt (unpack.sh chooses alike)
fp32=$($py train/tools/fp32_model.py "$work/srresnet-fp32") || fp32=$work/srresnet-fp32/latest.pt
echo "fp32 model for the later stages: $fp32" >> "$out/env.txt"
# 2. QAT of the four shipped quantized models, in parallel on the one GPU (each starts
#    again from the new FP32 model: they are short)
pids=()
[ "$qat_s" -gt 0 ] && for spec in ddtb:8 ddtb:4 pams:8 pams:4; do
  m=${spec%%:*}; b=${spec##*:}
  run="$work/$m-w${b}a${b}"
  mkdir -p "$run"
  train_for "$qat_s" 50 train/train_qat.py --init "$fp32" --method "$m" \
    --w-bits "$b" --a-bits "$b" --out "$run" --device "$dev" --data "$data" --val-data "$data" \
    --val-every 500 --ckpt-minutes 1 --threads 3 > "$run/stdout.log" 2>&1 &
  pids+=($!)
done
[ ${#pids[@]} -gt 0 ] && wait "${pids[@]}"
echo "qat done after $(( $(date +%s) - start )) s" >> "$out/env.txt"
pack

# 3. RefQSR, query-only (the reference path stays its QAT model bit for bit; docs/results.md),
#    the seven models of Table 2 in parallel, each from the QAT model just trained (or, with
#    stage 2 skipped, the one in train/runs)
clust=train/runs/clustblock/latest.pt
if [ "$rq_s" -gt 0 ] && [ ! -f "$clust" ]; then
  echo "refqsr skipped: $clust not carried" >> "$out/env.txt"
elif [ "$rq_s" -gt 0 ]; then
  pids=()
  for spec in ${REFQSR_MODELS:-ddtb:8:5 ddtb:8:4 ddtb:8:3 ddtb:4:3 ddtb:4:2 pams:8:4 pams:4:3}; do
    IFS=: read -r m h l <<< "$spec"
    qat="$work/$m-w${h}a${h}"
    if [ "$qat_s" -gt 0 ] && [ ! -f "$qat/latest.pt" ]; then
      # its baseline was to be trained in this session and was not: a RefQSR model must not
      # pair with an older baseline than the one shipped beside it
      echo "refqsr $m $h-$l skipped: stage 2 left no $qat/latest.pt" >> "$out/env.txt"
      continue
    elif [ ! -f "$qat/latest.pt" ]; then
      mkdir -p "$qat" && cp "train/runs/$m-w${h}a${h}/latest.pt" "$qat/" 2>/dev/null
      # its teacher: the FP32 model in WORK (train_refqsr.py looks beside --init)
      $py -c "import torch,sys; st=torch.load(sys.argv[1], map_location='cpu'); torch.save({'teacher': st['model'], 'init': sys.argv[1]}, sys.argv[2])" \
        "$fp32" "$qat/teacher.pt" 2>> "$out/env.txt"
    fi
    run="$work/$m-refqsr-$h-$l"
    mkdir -p "$run"
    # with stages 1 and 2 skipped its teacher and baseline are the repository's: continue the
    # repository's run (steps, Adam state, log) rather than start it again from the baseline
    resume=()
    shipped="train/runs/$m-refqsr-$h-$l"
    if [ "$fp_s" -eq 0 ] && [ "$qat_s" -eq 0 ] && [ -f "$shipped/latest.pt" ]; then
      for f in latest.pt latest_opt.pt log.csv teacher.pt clustblock.pt; do
        [ -f "$shipped/$f" ] && cp "$shipped/$f" "$run/"
      done
      resume=(--resume)
    fi
    train_for "$rq_s" 50 train/train_refqsr.py --init "$qat/latest.pt" --method "$m" --b-high "$h" --b-low "$l" \
      --clustblock "$clust" --train query --out "$run" --device "$dev" --data "$data" --val-data "$data" \
      --val-every 250 --ckpt-minutes 1 --threads 2 "${resume[@]}" > "$run/stdout.log" 2>&1 &
    pids+=($!)
  done
  # (a bare wait would also wait for the packer, forever)
  [ ${#pids[@]} -gt 0 ] && wait "${pids[@]}"
  echo "refqsr done after $(( $(date +%s) - start )) s" >> "$out/env.txt"
fi
kill "$packer" 2>/dev/null
wait "$packer" 2>/dev/null
pack
rm -f "$out"/*.tmp "$out"/refqsr.tar.??????   # a packing's leftovers would count against the 8 files
echo "all done after $(( $(date +%s) - start )) s" >> "$out/env.txt"
