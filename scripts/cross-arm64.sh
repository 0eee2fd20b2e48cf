# Sourced by scripts/check-native.sh and scripts/check-native-lib.sh: what building for a RID
# other than this machine's takes, and how the result is run. One pair is supported:
# linux-arm64 on an x86-64 Linux machine. NativeAOT then links with clang and lld for
# aarch64-linux-gnu against Debian's arm64 multiarch libraries, and the binaries run under
# qemu-aarch64 (user-mode emulation: ARM64 instructions, AdvSimd included, on this CPU; about
# 100x slower than native code). On Debian 12 (what .ci/run installs):
#
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install -y clang lld qemu-user libc6-dev:arm64 libstdc++-12-dev:arm64 zlib1g-dev:arm64

case "$(uname -m)" in x86_64) host_rid=linux-x64 ;; aarch64) host_rid=linux-arm64 ;; *) host_rid="" ;; esac

# What this machine lacks to build for linux-arm64 and run the result; nothing printed: all there.
cross_arm64_missing() {
  local m=""
  command -v clang > /dev/null || m="$m clang"
  command -v ld.lld > /dev/null || m="$m lld"
  command -v qemu-aarch64 > /dev/null || m="$m qemu-user"
  [ -e /usr/lib/aarch64-linux-gnu/libc.so ] && [ -e /lib/ld-linux-aarch64.so.1 ] || m="$m libc6-dev:arm64"
  compgen -G "/usr/lib/gcc/aarch64-linux-gnu/*/crtbeginS.o" > /dev/null || m="$m libstdc++-12-dev:arm64"
  [ -e /usr/lib/aarch64-linux-gnu/libz.so ] || m="$m zlib1g-dev:arm64"
  echo "${m# }"
}

# cross_setup RID ISA: sets publish_args (for dotnet publish), runner (the command that runs
# a binary built for RID here: empty for this machine's own), cc (a C compiler for RID) and
# build_note; exits naming what is missing when RID cannot be built and run here. ISA "-" is
# the RID's default instruction set ("native" on this machine's own RID).
cross_setup() {
  local rid=$1 isa=$2
  runner=()
  if [ -n "$host_rid" ] && [ "$rid" = "$host_rid" ]; then
    [ "$isa" = - ] && isa=native
    publish_args=(-p:IlcInstructionSet="$isa")
    cc=(gcc)
    build_note="instruction set $isa"
    return
  fi
  if [ "$host_rid/$rid" != linux-x64/linux-arm64 ]; then
    echo "cannot build and run $rid on ${host_rid:-$(uname -m)}: only linux-arm64 on linux-x64 (scripts/cross-arm64.sh)"
    exit 1
  fi
  local missing
  missing=$(cross_arm64_missing)
  [ -z "$missing" ] || { echo "building and running linux-arm64 here needs: $missing (scripts/cross-arm64.sh)"; exit 1; }
  # the SDK links with the host's bfd ld unless told, which has no aarch64 emulation
  publish_args=(-p:LinkerFlavor=lld)
  # "native" means this machine's instruction sets, not an ARM64 CPU's: take ARMv8.0 (AdvSimd is part of it)
  if [ "$isa" = - ] || [ "$isa" = native ]; then isa="armv8.0 baseline"; else publish_args+=(-p:IlcInstructionSet="$isa"); fi
  runner=(qemu-aarch64)
  cc=(clang --target=aarch64-linux-gnu -fuse-ld=lld)
  build_note="instruction set $isa, run under qemu-aarch64"
}
