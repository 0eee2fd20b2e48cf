#!/usr/bin/env bash
# Builds the C library (src/RefQsr.Native as NativeAOT: librefqsr.so and refqsr.h,
# docs/c-api.md), compiles tests/native/refqsr_c_test.c against it with warnings as errors,
# and runs it with a plain and a RefQSR shipped model on the demo's 320x240 SR image as input
# (six 96-px patches, so RefQSR pairs some as queries; for another architecture, under an
# emulator, its 80x60 LR image): its checks must hold and its output must be the refqsr
# command's (JIT build) byte for byte. Run by .ci/run; by hand:
#
#   bash scripts/check-native-lib.sh [INSTRUCTION_SET]     (default native; needs the Release build)
#   bash scripts/check-native-lib.sh - linux-arm64         (an ARM64 library and C program under
#                                                          qemu-aarch64: scripts/cross-arm64.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
isa=${1:-native}
source scripts/cross-arm64.sh
rid=${2:-$host_rid}
cross_setup "$rid" "$isa"
cli=src/RefQsr.Cli/bin/Release/net10.0/refqsr
[ -x "$cli" ] || { echo "build first: dotnet build RefQsr.Engine.sln -c Release"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

start=$(date +%s)
dotnet publish src/RefQsr.Native/RefQsr.Native.csproj -c Release -r "$rid" -p:PublishAot=true -p:NativeLib=Shared \
  "${publish_args[@]}" -o "$work/lib" > "$work/publish.log" 2>&1 || { tail -30 "$work/publish.log"; exit 1; }
echo "librefqsr ($rid, $build_note): $(( $(date +%s) - start )) s, $(( $(stat -c %s "$work/lib/librefqsr.so") / 1048576 )) MiB"
"${cc[@]}" -std=c11 -O2 -Wall -Wextra -Werror -pedantic -I "$work/lib" tests/native/refqsr_c_test.c \
  -L "$work/lib" -l:librefqsr.so -Wl,-rpath,"$work/lib" -lpthread -o "$work/refqsr_c_test"

"$cli" demo --out "$work/demo" > /dev/null
# under an emulator the 80x60 LR image (one patch: the C program upscales it four times, and
# qemu runs the kernels about 100x slower); RefQSR's queries are checked by check-native.sh
input="$work/demo/sr.png"
[ ${#runner[@]} -gt 0 ] && input="$work/demo/lr.png"
read -r w h < <(/usr/bin/python3 -c "from PIL import Image; import sys; i = Image.open(sys.argv[1]).convert('RGB'); open(sys.argv[2], 'wb').write(i.tobytes()); print(*i.size)" \
  "$input" "$work/lr.rgb")
for spec in srresnet-ddtb-w4a4:- srresnet-ddtb-refqsr-8-4:weights/clustblock-8bit.safetensors; do
  m=${spec%%:*}; cb=${spec#*:}
  "${runner[@]}" "$work/refqsr_c_test" "weights/$m.safetensors" "$cb" "$work/lr.rgb" "$w" "$h" "$work/$m.rgb"
  "$cli" upscale "$input" "$work/$m.png" --model "$m" > /dev/null 2>&1
  /usr/bin/python3 -c "
from PIL import Image; import sys
same = Image.open(sys.argv[1]).convert('RGB').tobytes() == open(sys.argv[2], 'rb').read()
print(('ok  ' if same else 'FAIL') + ' ' + sys.argv[3] + ': the C library gives the refqsr command\'s bytes')
sys.exit(0 if same else 1)" "$work/$m.png" "$work/$m.rgb" "$m"
done
if [ ${#runner[@]} -gt 0 ]; then
  # this machine's Python cannot load another architecture's library
  echo "C library ($rid): all checks passed (the Python bindings are checked with this machine's own build)"
  exit 0
fi
# the same library from Python (ctypes), as docs/c-api.md shows it
/usr/bin/python3 tests/native/refqsr_ctypes_test.py "$work/lib/librefqsr.so" weights/srresnet-ddtb-w4a4.safetensors \
  "$work/lr.rgb" "$w" "$h" "$work/srresnet-ddtb-w4a4.rgb"
# ... and through the Python module published beside it (numpy in and out)
/usr/bin/python3 tests/native/refqsr_python_test.py "$work/lib" "$work/lr.rgb" "$w" "$h" "$work/srresnet-ddtb-w4a4.rgb"
echo "C library: all checks passed"
