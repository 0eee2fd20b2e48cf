#!/usr/bin/env bash
# One GPU-machine session of the reference trainer (see ../shared/device/README.md):
# resumes the FP32 SRResNet, then trains the four shipped quantized models (DDTB/PAMS,
# w8a8/w4a4) from it in parallel. Everything is written under OUT as it goes, so a run cut
# off by the time limit still returns its latest checkpoints.
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
mkdir -p "$out/srresnet-fp32"
for f in latest.pt latest_opt.pt; do [ -f "train/runs/srresnet-fp32/$f" ] && cp "train/runs/srresnet-fp32/$f" "$out/srresnet-fp32/"; done
[ -f train/runs/srresnet-fp32/log.csv ] && cp train/runs/srresnet-fp32/log.csv "$out/srresnet-fp32/"
{ nvidia-smi -L 2>/dev/null; $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } > "$out/env.txt" 2>&1
start=$(date +%s)

# 1. FP32: 48-px patches from here on (the CPU run used 24-px ones early), checkpoints every minute
timeout -k 10 "$fp_s" $py train/train_fp32.py --out "$out/srresnet-fp32" --resume --device "$dev" \
  --data "$data" --val-data "$data" --early-steps 0 --val-every 1000 --ckpt-minutes 1 --threads 4 \
  --minutes "$(awk "BEGIN{print ($fp_s - 45) / 60}")" > "$out/srresnet-fp32/stdout.log" 2>&1
echo "fp32 done after $(( $(date +%s) - start )) s (exit $?)" >> "$out/env.txt"

# the LR cache the FP32 run made is large: keep it out of OUT (a link is not sent back)
if [ -d "$out/.cache" ]; then
  rm -rf /tmp/refqsr-cache && mv "$out/.cache" /tmp/refqsr-cache && ln -s /tmp/refqsr-cache "$out/.cache"
fi

# 2. QAT of the four shipped quantized models, in parallel on the one GPU
for spec in ddtb:8 ddtb:4 pams:8 pams:4; do
  m=${spec%%:*}; b=${spec##*:}
  run="$out/$m-w${b}a${b}"
  mkdir -p "$run"
  timeout -k 10 "$qat_s" $py train/train_qat.py --init "$out/srresnet-fp32/latest.pt" --method "$m" \
    --w-bits "$b" --a-bits "$b" --out "$run" --device "$dev" --data "$data" --val-data "$data" \
    --val-every 500 --ckpt-minutes 1 --threads 3 \
    --minutes "$(awk "BEGIN{print ($qat_s - 50) / 60}")" > "$run/stdout.log" 2>&1 &
done
wait
rm -f "$out/.cache"
echo "all done after $(( $(date +%s) - start )) s" >> "$out/env.txt"
