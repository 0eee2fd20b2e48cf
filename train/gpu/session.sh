#!/usr/bin/env bash
# One GPU-machine session of the reference trainer (see ../shared/device/README.md):
# resumes the FP32 SRResNet, then trains the four shipped quantized models (DDTB/PAMS,
# w8a8/w4a4) from it in parallel. The runs live in WORK; every minute (and at the end)
# their latest checkpoints are packed into OUT as at most 7 tar files under 16 MiB each,
# because the device tool returns at most 8 files per call and clears OUT between calls
# (learned the hard way: a first run's 35 files came back as 8). A run cut off by the
# time limit still returns the last packing. Unpack locally with
#   for t in OUT/*.tar; do tar -xf "$t" -C train/runs; done
#
#   bash train/gpu/session.sh OUT [FP32_SECONDS] [QAT_SECONDS] [DEVICE]
#
# Needs (carried, git-ignored): .gpu/data (train/pack_gpu_data.py) and
# train/runs/srresnet-fp32/latest.pt. Locally: DEVICE=cpu with tiny budgets to test.
set -u
out=${1:?usage: session.sh OUT [FP32_SECONDS] [QAT_SECONDS] [DEVICE]}
fp_s=${2:-270}
qat_s=${3:-170}
dev=${4:-cuda}
py=${PYTHON:-python3}
# checkpoints hold plain dicts of config next to the tensors; PyTorch >= 2.6 would refuse them by default
export TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1
data=.gpu/data
work=${WORK:-/tmp/refqsr-runs}
mkdir -p "$out" "$work/srresnet-fp32"
for f in latest.pt latest_opt.pt log.csv; do [ -f "train/runs/srresnet-fp32/$f" ] && cp "train/runs/srresnet-fp32/$f" "$work/srresnet-fp32/"; done

pack() {
  for run in srresnet-fp32 ddtb-w8a8 ddtb-w4a4 pams-w8a8 pams-w4a4; do
    [ -f "$work/$run/latest.pt" ] || continue
    files=$(cd "$work" && ls "$run"/latest.pt "$run"/log.csv "$run"/curve.png "$run"/stdout.log 2>/dev/null)
    (cd "$work" && tar -cf "$out/$run.tar.tmp" $files) && mv "$out/$run.tar.tmp" "$out/$run.tar"
  done
  if [ -f "$work/srresnet-fp32/latest_opt.pt" ]; then
    (cd "$work" && tar -cf "$out/srresnet-fp32-opt.tar.tmp" srresnet-fp32/latest_opt.pt) && mv "$out/srresnet-fp32-opt.tar.tmp" "$out/srresnet-fp32-opt.tar"
  fi
}
(while sleep 60; do pack; done) &
packer=$!
{ nvidia-smi -L 2>/dev/null; $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } > "$out/env.txt" 2>&1
start=$(date +%s)

# 1. FP32: 48-px patches from here on (the CPU run used 24-px ones early), checkpoints every minute
timeout -k 10 "$fp_s" $py train/train_fp32.py --out "$work/srresnet-fp32" --resume --device "$dev" \
  --data "$data" --val-data "$data" --early-steps 0 --val-every 1000 --ckpt-minutes 1 --threads 4 \
  --minutes "$(awk "BEGIN{print ($fp_s - 45) / 60}")" > "$work/srresnet-fp32/stdout.log" 2>&1
echo "fp32 done after $(( $(date +%s) - start )) s (exit $?)" >> "$out/env.txt"

pack
# 2. QAT of the four shipped quantized models, in parallel on the one GPU (each starts
#    again from the new FP32 model: they are short)
pids=()
for spec in ddtb:8 ddtb:4 pams:8 pams:4; do
  m=${spec%%:*}; b=${spec##*:}
  run="$work/$m-w${b}a${b}"
  mkdir -p "$run"
  timeout -k 10 "$qat_s" $py train/train_qat.py --init "$work/srresnet-fp32/latest.pt" --method "$m" \
    --w-bits "$b" --a-bits "$b" --out "$run" --device "$dev" --data "$data" --val-data "$data" \
    --val-every 500 --ckpt-minutes 1 --threads 3 \
    --minutes "$(awk "BEGIN{print ($qat_s - 50) / 60}")" > "$run/stdout.log" 2>&1 &
  pids+=($!)
done
wait "${pids[@]}"
kill "$packer" 2>/dev/null
pack
echo "all done after $(( $(date +%s) - start )) s" >> "$out/env.txt"
