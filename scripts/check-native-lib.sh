#!/usr/bin/env bash
# Builds the C library (src/RefQsr.Native as NativeAOT: librefqsr.so and refqsr.h,
# docs/c-api.md), compiles tests/native/refqsr_c_test.c against it with warnings as errors,
# and runs it with a plain and a RefQSR shipped model on the demo's 320x240 SR image as input
# (six 96-px patches, so RefQSR pairs some as queries): its checks must hold
# and its output must be the refqsr command's (JIT build) byte for byte. Run by .ci/run; by hand:
#
#   bash scripts/check-native-lib.sh [INSTRUCTION_SET]     (default native; needs the Release build)
set -euo pipefail
cd "$(dirname "$0")/.."
isa=${1:-native}
case "$(uname -m)" in x86_64) rid=linux-x64 ;; aarch64) rid=linux-arm64 ;; *) echo "no NativeAOT RID for $(uname -m)"; exit 1 ;; esac
cli=src/RefQsr.Cli/bin/Release/net10.0/refqsr
[ -x "$cli" ] || { echo "build first: dotnet build RefQsr.Engine.sln -c Release"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

start=$(date +%s)
dotnet publish src/RefQsr.Native/RefQsr.Native.csproj -c Release -r "$rid" -p:PublishAot=true -p:NativeLib=Shared \
  -p:IlcInstructionSet="$isa" -o "$work/lib" > "$work/publish.log" 2>&1 || { tail -30 "$work/publish.log"; exit 1; }
echo "librefqsr ($rid, instruction set $isa): $(( $(date +%s) - start )) s, $(( $(stat -c %s "$work/lib/librefqsr.so") / 1048576 )) MiB"
gcc -std=c11 -O2 -Wall -Wextra -Werror -pedantic -I "$work/lib" tests/native/refqsr_c_test.c \
  -L "$work/lib" -l:librefqsr.so -Wl,-rpath,"$work/lib" -lpthread -o "$work/refqsr_c_test"

"$cli" demo --out "$work/demo" > /dev/null
/usr/bin/python3 -c "from PIL import Image; import sys; open(sys.argv[2], 'wb').write(Image.open(sys.argv[1]).convert('RGB').tobytes())" \
  "$work/demo/sr.png" "$work/lr.rgb"
for spec in srresnet-ddtb-w4a4:- srresnet-ddtb-refqsr-8-4:weights/clustblock-8bit.safetensors; do
  m=${spec%%:*}; cb=${spec#*:}
  "$work/refqsr_c_test" "weights/$m.safetensors" "$cb" "$work/lr.rgb" 320 240 "$work/$m.rgb"
  "$cli" upscale "$work/demo/sr.png" "$work/$m.png" --model "$m" > /dev/null 2>&1
  /usr/bin/python3 -c "
from PIL import Image; import sys
same = Image.open(sys.argv[1]).convert('RGB').tobytes() == open(sys.argv[2], 'rb').read()
print(('ok  ' if same else 'FAIL') + ' ' + sys.argv[3] + ': the C library gives the refqsr command\'s bytes')
sys.exit(0 if same else 1)" "$work/$m.png" "$work/$m.rgb" "$m"
done
# the same library from Python (ctypes), as docs/c-api.md shows it
/usr/bin/python3 tests/native/refqsr_ctypes_test.py "$work/lib/librefqsr.so" weights/srresnet-ddtb-w4a4.safetensors \
  "$work/lr.rgb" 320 240 "$work/srresnet-ddtb-w4a4.rgb"
# ... and through the Python module published beside it (numpy in and out)
/usr/bin/python3 tests/native/refqsr_python_test.py "$work/lib" "$work/lr.rgb" 320 240 "$work/srresnet-ddtb-w4a4.rgb"
echo "C library: all checks passed"
