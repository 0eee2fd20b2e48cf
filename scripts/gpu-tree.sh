#!/usr/bin/env bash
# The device tool sends the working tree (tracked files and untracked ones git does not
# ignore) plus the carried paths to the GPU machine, 64 MiB at most, and refuses a call
# above that. This repository tracks far more (the shipped weights, the resumable
# checkpoints in train/runs, the parity fixtures: about 230 MiB), none of which a GPU
# session needs beyond what it carries. So before a session's device call the large
# folders leave git's index (the files stay on disk) and are ignored through
# .git/info/exclude; afterwards restore puts the index back as HEAD has it.
#
#   bash scripts/gpu-tree.sh slim [CARRY ...]     untrack + ignore; prints what would travel
#   bash scripts/gpu-tree.sh size [CARRY ...]     what would travel now, with these carried paths
#   bash scripts/gpu-tree.sh restore              index and exclude file as before slim
#
# While slim, a pre-commit hook refuses every commit (it would delete the untracked files
# from the repository). Run restore before committing what the session brought back.
set -euo pipefail
cd "$(dirname "$0")/.."
large=(weights train/runs tests/fixtures)
exclude=$(git rev-parse --git-path info/exclude)
hook=$(git rev-parse --git-path hooks/pre-commit)
marker=$(git rev-parse --git-path refqsr-gpu-slim)
limit=$((64 * 1024 * 1024))
begin="# >>> scripts/gpu-tree.sh slim"
end="# <<< scripts/gpu-tree.sh slim"

travelling_bytes() {
  # tracked files that exist, untracked files not ignored, then each carried path
  {
    git ls-files -z
    git ls-files -z --others --exclude-standard
  } | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $1} END {print s + 0}'
}

report() {
  local bytes carried=0 p
  bytes=$(travelling_bytes)
  for p in "$@"; do
    [ -e "$p" ] || { echo "carry path not found: $p" >&2; exit 2; }
    carried=$((carried + $(du -sb -- "$p" | cut -f1)))
  done
  local total=$((bytes + carried))
  awk -v t="$bytes" -v c="$carried" -v all="$total" -v l="$limit" 'BEGIN {
    printf "working tree %.1f MiB + carried %.1f MiB = %.1f MiB of the 64 MiB limit\n", t / 1048576, c / 1048576, all / 1048576 }'
  [ "$total" -le "$limit" ] || { echo "too large for the device tool" >&2; return 1; }
}

case "${1:-}" in
  slim)
    shift
    if [ -e "$marker" ]; then echo "already slim (bash scripts/gpu-tree.sh restore undoes it)"; report "$@"; exit; fi
    if ! git diff --cached --quiet -- "${large[@]}"; then
      echo "staged changes under ${large[*]}: commit or unstage them first" >&2; exit 1
    fi
    if [ -e "$hook" ]; then echo "$hook exists; not replacing it" >&2; exit 1; fi
    git rm -r -q --cached -- "${large[@]}"
    mkdir -p "$(dirname "$exclude")" "$(dirname "$hook")"
    { echo "$begin"; for d in "${large[@]}"; do echo "/$d/"; done; echo "$end"; } >> "$exclude"
    printf '#!/bin/sh\necho "scripts/gpu-tree.sh slim is in effect: run bash scripts/gpu-tree.sh restore before committing" >&2\nexit 1\n' > "$hook"
    chmod +x "$hook"
    date -u +%FT%TZ > "$marker"
    echo "untracked (index only, files kept) and ignored: ${large[*]}"
    report "$@"
    ;;
  restore)
    [ -e "$marker" ] || { echo "not slim; nothing to restore"; exit 0; }
    git reset -q -- "${large[@]}"
    if [ -f "$exclude" ]; then
      awk -v b="$begin" -v e="$end" '$0 == b {skip = 1; next} $0 == e {skip = 0; next} !skip' "$exclude" > "$exclude.tmp"
      mv "$exclude.tmp" "$exclude"
    fi
    rm -f "$hook" "$marker"
    echo "index and exclude file restored; git status:"
    git status --short | head -20
    ;;
  size)
    shift
    report "$@"
    ;;
  *)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
