#!/bin/bash
# The sparsity results grid (docs/results/sparsity.md) as eight `cstudio report sparsity`
# processes side by side: {lm-fortunes, stories260K} x {unstructured, 2:4, 4:8}, plus the
# SI ablations of each model. Meant for a machine with >= 16 cores (2 threads per process);
# on the 2-core VM use THREADS=1 and expect about an hour.
#   usage: tools/sparsity_grid.sh CSTUDIO OUTDIR SHARED_DIR [FORTUNES_DIR]
# FORTUNES_DIR (default: Debian's /usr/share/games/fortunes) is passed as CSTUDIO_FORTUNES.
# Per-process time limit: LIM seconds (default: none). SI epochs: EPOCHS (default 2).
set -u
[ $# -ge 3 ] || { echo "usage: $0 CSTUDIO OUTDIR SHARED_DIR [FORTUNES_DIR]" >&2; exit 2; }
B=$1 OUT=$2 S=$3
[ $# -ge 4 ] && export CSTUDIO_FORTUNES=$4
mkdir -p "$OUT"
T=${THREADS:-2}
run() { if [ -n "${LIM:-}" ]; then timeout "$LIM" "$@"; else "$@"; fi; }
COMMON="--calib 128 --calib-len 128 --si-epochs ${EPOCHS:-2} --si-inputs ${SI_INPUTS:-dense} --seeds 3 --fortunes-bytes 16384 --ood-bytes 65536"
T0=$(date +%s)
for m in lm-fortunes stories260K; do
  for p in unstructured 2:4 4:8; do
    n=${m}_${p/:/-}
    run "$B" --threads "$T" report sparsity --out "$OUT/$n.md" --models $m --shared "$S" --patterns $p $COMMON \
      --no-ablations > "$OUT/$n.log" 2>&1 &
  done
  run "$B" --threads "$T" report sparsity --out "$OUT/${m}_abl.md" --models $m --shared "$S" --patterns "" $COMMON \
    > "$OUT/${m}_abl.log" 2>&1 &
done
wait
echo "grid: $(( $(date +%s) - T0 )) s"
for f in "$OUT"/*.md; do echo "== $f"; grep "^|\|^Dense" "$f"; done
