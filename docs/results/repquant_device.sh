#!/bin/bash
# The heavy part of docs/results/repquant.md on a LibTorch-only machine with many cores
# (and a CUDA GPU for RepQuant's reconstruction loop): builds the CS_MINIMAL cstudio,
# runs `report repquant` (full 10k Fashion-MNIST test set) and `report repquant-lm`
# as one process per (row, two bit-widths) / (model, method), P at a time, one intra-op
# thread each, then merges the runs into Markdown with `--merge`.
#
# Usage (repository root):  G=.gpu-rq OUT=/tmp/out bash docs/results/repquant_device.sh
#   $G/include   nlohmann/, CLI/, zlib.h, zconf.h   (headers the machine lacks)
#   $G/fmnist    the Fashion-MNIST IDX files        (CSTUDIO_FMNIST)
#   $G/fortunes  Debian fortunes text files          (CSTUDIO_FORTUNES)
#   $G/shared    ../shared/data/{weights/stories260K,text/*.txt}
# Env: P (parallel processes, default 16), DEADLINE (seconds from start after which
# unfinished processes are stopped; their finished runs are kept), RECON (cuda|cpu).
set -u
JOBS=${JOBS:+$(realpath "$JOBS")}
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
G=${G:-.gpu-rq}; G=$(cd "$G" && pwd); P=${P:-16}; DEADLINE=${DEADLINE:-540}; RECON=${RECON:-cuda}; EVAL=${EVAL:-10000}
export CSTUDIO_FMNIST=$G/fmnist CSTUDIO_FORTUNES=$G/fortunes
mkdir -p "$OUT"; L=$OUT/log.txt; R=/tmp/rq_runs; mkdir -p $R
{ nproc; nvidia-smi -L 2>/dev/null; lscpu | grep 'Model name'; } >> "$L"
B=/tmp/rq_build
cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DCS_MINIMAL=ON -DCS_THIRD_PARTY_INCLUDE="$G/include" \
  -DCMAKE_PREFIX_PATH="$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')" > /tmp/rq_build.log 2>&1 &&
  ninja -C $B -j "$(nproc)" cstudio >> /tmp/rq_build.log 2>&1 || { tail -60 /tmp/rq_build.log | tee -a "$L"; exit 1; }
echo "build done at $(el) s" | tee -a "$L"
C=$B/app/cli/cstudio

# Job list, longest and most important first (xargs starts them in this order): ViT jobs
# are (row, two bit-widths), LM jobs (model, method); one extra job repeats RepQuant W4A4
# seed 0 with the reconstruction loop on the CPU, to compare with the CUDA loop.
{
  for m in lm-fortunes stories260K; do echo "lm $m repquant"; done
  for r in 9 11 7 8 10 0 1 2 3 5 4 6; do echo "vit $r W4A4,W8A8"; done
  for m in lm-fortunes stories260K; do for x in repq-vit rtn percentile omse smoothquant; do echo "lm $m $x"; done; done
  for r in 9 11 7 8 10 0 1 2 3 5 4 6; do echo "vit $r W4A8,W6A6"; done
  echo "cpu 9 W4A4"
} > /tmp/rq_jobs
# JOBS=FILE replaces the list (e.g. the runs a first, time-limited call left undone):
# lines "vit ROW BITS[,BITS] [SEEDS]" and "lm MODEL METHOD [BITS [SEEDS]]", SEEDS like 1,2.
[ -n "${JOBS:-}" ] && cp "$JOBS" /tmp/rq_jobs

job() {  # kind a b [c [d]]
  local kind=$1 a=$2 b=$3 c=${4:-} d=${5:-} rc fp=--no-fp left only= lmbits=
  local n="$1_$2_${3//,/_}${4:+_${4//,/_}}${5:+_s${5//,/_}}"
  [ $kind = lm ] && { [ -n "$c" ] && lmbits="--bits $c"; [ -n "$d" ] && only="--only-seeds $d"; }
  [ $kind != lm ] && [ -n "$c" ] && only="--only-seeds $c"
  left=$((T0 + DEADLINE - $(date +%s)))
  [ $left -gt 5 ] || return 0
  [ "$a $b" = "0 W4A4,W8A8" ] && [ -z "${JOBS:-}" ] && fp=
  vit() {  # recon-device seeds
    left=$((T0 + DEADLINE - $(date +%s)))
    timeout $left $C --threads 1 report repquant --eval-samples $EVAL --seeds $2 --calib 32 --rows $a --bits $b \
      $fp $only --recon-device $1 --json-out $R/$n.json --out /dev/null > /dev/null 2>> $R/$n.err
  }
  if [ $kind = vit ]; then
    vit $RECON 3; rc=$?
    # a failing CUDA loop falls back to the CPU one (same algorithm)
    if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $RECON != cpu ]; then vit cpu 3; rc=$?; fi
  elif [ $kind = cpu ]; then
    vit cpu 1; rc=$?
  else
    timeout $left $C --threads 1 report repquant-lm --models $a --methods $b $lmbits $only --shared $G/shared --seeds 3 \
      --json-out $R/$n.json --out $R/$n.md > /dev/null 2>> $R/$n.err; rc=$?
  fi
  echo "$kind $a $b rc $rc at $(el) s" >> "$L"
}
export -f job el; export T0 DEADLINE C R L G RECON EVAL JOBS
xargs -P "$P" -L 1 bash -c 'job "$@"' _ < /tmp/rq_jobs
echo "runs done at $(el) s" | tee -a "$L"

# Merge (cheap; runs nothing).
cp $R/cpu_*.json "$OUT/" 2>/dev/null  # the CPU-reconstruction comparison stays out of the table
V=$(ls $R/vit_*.json 2>/dev/null | tr '\n' ',' | sed 's/,$//')
[ -n "$V" ] && $C report repquant --merge "$V" --out "$OUT/vit_table.md" > /dev/null 2>> "$L"
M=$(ls $R/lm_*.json 2>/dev/null | tr '\n' ',' | sed 's/,$//')
[ -n "$M" ] && $C report repquant-lm --merge "$M" --methods rtn,percentile,omse,smoothquant,repq-vit,repquant \
  --out "$OUT/lm_section.md" > /dev/null 2>> "$L"
tar -C $R -czf "$OUT/runs.tgz" . 2>> "$L"
echo "end at $(el) s" | tee -a "$L"
