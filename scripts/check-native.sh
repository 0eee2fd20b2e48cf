#!/usr/bin/env bash
# Builds the refqsr command as NativeAOT (docs/native.md) and checks that it does what the JIT
# build does: the same output bytes, exit codes, error messages and --json documents (less
# timings and paths) for every shipped model, every image format the command reads, damaged
# inputs, folders, eval and info, on 1 and 2 threads; and that it refuses the GPU devices
# with its own message. Run by .ci/run; by hand:
#
#   bash scripts/check-native.sh [INSTRUCTION_SET]
#
# INSTRUCTION_SET is IlcInstructionSet (default native: this machine's; x86-64-v3 for any CPU
# with AVX2 and FMA). Needs the Release build (dotnet build -c Release) and /usr/bin/python3
# with PIL (to write the image formats). Prints the publish time and the native binary's size.
#
#   bash scripts/check-native.sh - linux-arm64
#
# builds for ARM64 on an x86-64 machine and runs that build under qemu-aarch64 against this
# machine's JIT build: the same bytes from the ARM64 (AdvSimd) kernels as from the x86 ones
# (scripts/cross-arm64.sh says what it needs and checks that it is there).
set -euo pipefail
cd "$(dirname "$0")/.."
isa=${1:-native}
source scripts/cross-arm64.sh
rid=${2:-$host_rid}
cross_setup "$rid" "$isa"
jit=(dotnet "$PWD/src/RefQsr.Cli/bin/Release/net10.0/refqsr.dll")
[ -f "${jit[1]}" ] || { echo "build first: dotnet build RefQsr.Engine.sln -c Release"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

start=$(date +%s)
dotnet publish src/RefQsr.Cli/RefQsr.Cli.csproj -c Release -r "$rid" -p:PublishAot=true "${publish_args[@]}" \
  -o "$work/native" > "$work/publish.log" 2>&1 || { tail -30 "$work/publish.log"; exit 1; }
native=("${runner[@]}" "$work/native/refqsr")
echo "native build ($rid, $build_note): $(( $(date +%s) - start )) s, $(( $(stat -c %s "$work/native/refqsr") / 1048576 )) MiB"
"${native[@]}" info | grep -E '^(cpu|unused) '

fails=0
# same CASE ARGS...: runs both builds in their own folders on copies of the inputs; compares
# the exit codes, stderr's refqsr: lines, every file written and stdout (JSON less timings)
same() {
  local name=$1; shift
  local b
  for b in jit native; do
    rm -rf "$work/run-$b" && cp -r "$work/in" "$work/run-$b"
    local cmd
    if [ $b = jit ]; then cmd=("${jit[@]}"); else cmd=("${native[@]}"); fi
    (cd "$work/run-$b" && set +e; "${cmd[@]}" "$@" > ../out-$b.txt 2> ../err-$b.txt; echo $? > ../rc-$b.txt)
  done
  local why=""
  cmp -s "$work/rc-jit.txt" "$work/rc-native.txt" || why="exit code $(cat "$work/rc-jit.txt") vs $(cat "$work/rc-native.txt")"
  diff -q <(grep '^refqsr:' "$work/err-jit.txt") <(grep '^refqsr:' "$work/err-native.txt") > /dev/null || why="$why; stderr differs"
  diff -rq "$work/run-jit" "$work/run-native" > /dev/null || why="$why; files differ: $(diff -rq "$work/run-jit" "$work/run-native" | head -3 | tr "\n" " " || true)"
  /usr/bin/python3 - "$work/out-jit.txt" "$work/out-native.txt" "${#runner[@]}" <<'EOF' || why="$why; stdout differs"
import json, sys
# another architecture's build (under an emulator) differs in what describes the machine:
# its instruction sets and the conv paths they give
machine = ("cpu", "cpu_unused", "conv_paths") if sys.argv[3] != "0" else ()
def load(p):
    t = open(p).read()
    try:
        d = json.loads(t)
    except ValueError:
        return t
    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k not in ("seconds", "stage_seconds", "file") + machine}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v
    return strip(d)
a, b = load(sys.argv[1]), load(sys.argv[2])
if isinstance(a, str) or isinstance(b, str):
    # plain text (or JSON on one side only): the lines without timings
    keep = lambda p: [l for l in open(p).read().splitlines() if " s on " not in l and " total" not in l
                      and not (machine and l.split(" ", 1)[0] in ("cpu", "unused", "kernels"))]
    sys.exit(0 if keep(sys.argv[1]) == keep(sys.argv[2]) else 1)
sys.exit(0 if a == b else 1)
EOF
  if [ -n "$why" ]; then
    echo "FAIL $name: ${why#; }"; sed 's/^/  jit: /' "$work/err-jit.txt" | tail -3; sed 's/^/  native: /' "$work/err-native.txt" | tail -3
    fails=$((fails + 1))
  else
    echo "ok   $name (exit $(cat "$work/rc-jit.txt"))"
  fi
}

# inputs: the demo scene, written by the JIT build, in the formats the command reads (and four
# it refuses by name)
mkdir -p "$work/in"
"${jit[@]}" demo --out "$work/in/demo" > /dev/null
/usr/bin/python3 - "$work/in" <<'EOF'
import io, os, sys
from PIL import Image
d = sys.argv[1]
lr = Image.open(os.path.join(d, "demo", "lr.png")).convert("RGB")
lr.save(os.path.join(d, "a.jpg"), quality=90)
lr.save(os.path.join(d, "progressive.jpg"), quality=85, progressive=True)
exif = Image.Exif(); exif[0x0112] = 6          # stored sideways: turn upright
lr.save(os.path.join(d, "rotated.jpg"), quality=90, exif=exif.tobytes())
from PIL import ImageCms
srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
lr.save(os.path.join(d, "icc.jpg"), quality=90, icc_profile=srgb)
lr.save(os.path.join(d, "icc.png"), icc_profile=srgb)
lr.save(os.path.join(d, "a.bmp")); lr.save(os.path.join(d, "a.gif")); lr.save(os.path.join(d, "a.tga"))
lr.save(os.path.join(d, "a.tiff")); lr.save(os.path.join(d, "a.webp"), lossless=True)
lr.convert("L").save(os.path.join(d, "gray.png"))
lr.convert("L").convert("I;16").save(os.path.join(d, "gray16.png"))
lr.convert("P").save(os.path.join(d, "palette.png"))
rgba = lr.copy(); rgba.putalpha(Image.linear_gradient("L").resize(lr.size)); rgba.save(os.path.join(d, "alpha.png"))
lr.resize((37, 23)).save(os.path.join(d, "odd.png"))
buf = io.BytesIO(); lr.save(buf, "PNG"); data = buf.getvalue()
open(os.path.join(d, "cut.png"), "wb").write(data[: len(data) // 2])
buf = io.BytesIO(); lr.save(buf, "JPEG"); data = buf.getvalue()
open(os.path.join(d, "cut.jpg"), "wb").write(data[: len(data) * 2 // 3])
open(os.path.join(d, "garbage.png"), "wb").write(os.urandom(3000))
# a PNG header claiming 100000 x 100000 pixels
import struct, zlib
ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
chunk = lambda t, b: struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))
open(os.path.join(d, "huge.png"), "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
os.makedirs(os.path.join(d, "folder")); os.makedirs(os.path.join(d, "data", "HR"))
for n in ("a.jpg", "odd.png", "garbage.png"):
    open(os.path.join(d, "folder", n), "wb").write(open(os.path.join(d, n), "rb").read())
Image.open(os.path.join(d, "demo", "hr.png")).save(os.path.join(d, "data", "HR", "scene.png"))
EOF

same demo demo --out again
for m in $("${jit[@]}" models | awk '$2 == "SRResNet" {print $1}'); do
  same "upscale $m" upscale demo/lr.png out.png --model "$m" --json
done
for t in 1 2; do
  same "upscale RefQSR 8-4, 36-px patches, $t thread(s), cluster map" upscale demo/lr.png out.png --model srresnet-ddtb-refqsr-8-4 \
    --patch 36 --threads $t --clusters map.png --json
done
for f in a.jpg progressive.jpg rotated.jpg icc.jpg icc.png a.bmp gray.png gray16.png palette.png alpha.png odd.png; do
  same "read $f" upscale "$f" out.png --model srresnet-ddtb-w4a4 --json
done
for f in cut.png cut.jpg garbage.png huge.png missing.png a.gif a.tga a.tiff a.webp; do
  same "refuse $f" upscale "$f" out.png
done
same "folder with a bad image" upscale folder out --json
same "eval" eval --data data --model srresnet-ddtb-refqsr-4-3 --patch 36 --json
same "info" info --model srresnet-pams-refqsr-4-3 --image demo/lr.png --json
same "bad option" upscale demo/lr.png out.png --patch 3
cp -r tests/fixtures/tiny-ddtb-w4a4 "$work/in/fixture"
same "parity" parity fixture --json

# standard input and output
for b in jit native; do
  if [ $b = jit ]; then cmd=("${jit[@]}"); else cmd=("${native[@]}"); fi
  "${cmd[@]}" upscale - - --model srresnet-ddtb-w4a4 < "$work/in/a.jpg" > "$work/piped-$b.png" 2> /dev/null || true
done
if [ -s "$work/piped-jit.png" ] && cmp -s "$work/piped-jit.png" "$work/piped-native.png"; then
  echo "ok   piped in and out"
else
  echo "FAIL piped in and out"; fails=$((fails + 1))
fi

# the GPU backend needs the JIT: the native build names that instead of failing inside ILGPU
for d in cuda ilgpu-cpu; do
  set +e; msg=$("${native[@]}" upscale "$work/in/demo/lr.png" "$work/gpu.png" --device $d 2>&1); rc=$?; set -e
  if [ $rc -eq 1 ] && grep -q 'NativeAOT build' <<< "$msg" && [ ! -e "$work/gpu.png" ]; then
    echo "ok   --device $d refused (exit 1)"
  else
    echo "FAIL --device $d: exit $rc: $msg"; fails=$((fails + 1))
  fi
done

[ $fails -eq 0 ] && echo "native build: all checks passed" || { echo "native build: $fails check(s) failed"; exit 1; }
