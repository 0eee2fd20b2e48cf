#!/usr/bin/env bash
# The refqsr command as NativeAOT against the JIT build, measured in the same run with the
# runs alternated (docs/native.md): a whole process that upscales one small image (what a
# short-lived caller pays: start, model load, JIT or none, the run), the same on a larger
# image, and a warm run (the last of several images through one loaded model), plus the
# NativeAOT build for the default instruction set. Writes bench/RESULTS-native.md.
#
#   bash bench/native-vs-jit.sh [ROUNDS]     (default 5; needs dotnet build -c Release first)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
case "$(uname -m)" in x86_64) rid=linux-x64 ;; aarch64) rid=linux-arm64 ;; *) echo "no NativeAOT RID for $(uname -m)"; exit 1 ;; esac
jit=src/RefQsr.Cli/bin/Release/net10.0/refqsr
[ -x "$jit" ] || { echo "build first: dotnet build RefQsr.Engine.sln -c Release"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# x86-64-v3 (AVX2, FMA) where the machine has it, as docs/native.md advises; the default
# instruction set beside it
isa=native
[ $rid = linux-x64 ] && grep -qw avx2 /proc/cpuinfo && isa=x86-64-v3
for b in "$isa" default; do
  extra=(); [ $b != default ] && extra=(-p:IlcInstructionSet=$b)
  dotnet publish src/RefQsr.Cli/RefQsr.Cli.csproj -c Release -r $rid -p:PublishAot=true "${extra[@]}" -o "$work/aot-$b" > "$work/publish-$b.log" 2>&1 \
    || { tail -20 "$work/publish-$b.log"; exit 1; }
done
"$jit" demo --out "$work/demo" > /dev/null
mkdir -p "$work/folder" "$work/small"
for i in 1 2 3 4; do cp "$work/demo/sr.png" "$work/folder/scene$i.png"; cp "$work/demo/lr.png" "$work/small/scene$i.png"; done   # 320x240 and 80x60 LR

/usr/bin/python3 - "$work" "$jit" "$isa" "$rounds" <<'EOF'
import json, os, platform, statistics, subprocess, sys, time
work, jit, isa, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
builds = {"JIT": [jit], f"NativeAOT {isa}": [f"{work}/aot-{isa}/refqsr"]}
model = ["--model", "srresnet-ddtb-w4a4", "--threads", "1"]

def wall(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t

def warm(cmd, folder="folder"):
    out = subprocess.run(cmd + ["upscale", f"{work}/{folder}", f"{work}/out-folder", "--json", "--full-image"] + model,
                         check=True, capture_output=True, text=True).stdout
    subprocess.run(["rm", "-rf", f"{work}/out-folder"], check=True)
    return json.loads(out)["images"][-1]["seconds"]   # the 4th image: model loaded, code warm

cases = {
    "process: 80x60 image, start to exit": lambda c: wall(c + ["upscale", f"{work}/demo/lr.png", f"{work}/o.png"] + model),
    "process: 320x240 image, start to exit": lambda c: wall(c + ["upscale", f"{work}/demo/sr.png", f"{work}/o.png", "--full-image"] + model),
    "warm: 4th 320x240 image of a folder (engine time)": warm,
}
res = {k: {b: [] for b in builds} for k in cases}
for r in range(rounds):
    for k, f in cases.items():
        for b in (builds if r % 2 == 0 else reversed(list(builds))):
            res[k][b].append(f(builds[b]))
# the default instruction set once (it is slow), warm on the 80x60 images, against the JIT's
# and the tuned build's runs just before and after it
small = {b: [] for b in builds}
for r in range(3):
    for b in builds:
        small[b].append(warm(builds[b], "small"))
    if r == 1:
        base = warm([f"{work}/aot-default/refqsr"], "small")

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
nat = f"NativeAOT {isa}"
lines = [
    "# The refqsr command: NativeAOT against JIT",
    "",
    f"Re-run: `bash bench/native-vs-jit.sh {rounds}` (after `dotnet build RefQsr.Engine.sln -c Release`).",
    f"Measured {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC on {cpu}, {os.cpu_count()} cores, "
    f"{platform.platform()}; model srresnet-ddtb-w4a4, one thread, {rounds} rounds with the builds alternated. "
    "Medians, with the fastest and slowest run in brackets. The machine is shared, so read the ratios.",
    "",
    f"| case | JIT (s) | {nat} (s) | JIT / native |",
    "| --- | --- | --- | --- |",
]
for k in cases:
    j, n = res[k]["JIT"], res[k][nat]
    lines.append(f"| {k} | {statistics.median(j):.3f} [{min(j):.3f}, {max(j):.3f}] | "
                 f"{statistics.median(n):.3f} [{min(n):.3f}, {max(n):.3f}] | {statistics.median(j) / statistics.median(n):.2f} |")
js, ns = statistics.median(small["JIT"]), statistics.median(small[nat])
lines += [
    "",
    f"NativeAOT for the default instruction set (no `IlcInstructionSet`), warm, the 4th 80x60 image of a folder, once: {base:.3f} s, "
    f"against {js:.3f} s for the JIT and {ns:.3f} s for {nat} (medians of 3 runs around it): {base / js:.0f}x the JIT's time. "
    "Its kernels see no AVX2 or FMA (`refqsr info` names them on its `unused` line, and `upscale` warns).",
    "",
]
open("bench/RESULTS-native.md", "w").write("\n".join(lines))
print("\n".join(lines))
EOF
