#!/bin/bash
# Regenerates docs/results/efficient_sam2.md (Efficient-SAM2: SWR + SMR in the SAM 2.1 port).
#  1. parity: runs test_sam2_parity and quotes its result line;
#  2. held-out synthetic videos: `cstudio bench sam2-synth --device cpu` here (the committed weights,
#     docs/results/efficient_sam2_synth_vm.json), then the device tables; 4. GPU speed: copied from
#     docs/results/efficient_sam2_gpu.json, and the DAVIS-routing tables from efficient_sam2_gpu_davis.json
#     (PART=davis of efficient_sam2_gpu.sh) with efficient_sam2_swr_coverage.json (bench swr-coverage),
#     written from the device run's `cstudio bench sam2-synth ... --json` (sam2-micro, cpu and cuda)
#     and `cstudio bench sam2 --size tiny|large --device cuda --json` outputs (.gpu/eff_run*.sh; the
#     commands are quoted in the .md);
#  3. real videos with sam2-micro through `cstudio segment` on this machine: DAVIS-2016 blackswan
#     and car-shadow (box of the frame-0 ground truth) and the bedroom clip (a click on the girl),
#     full model and SWR + SMR (`--compare-full`: speed ratio and IoU from the same process).
# Usage (from the repository root): docs/results/efficient_sam2.sh [BUILD_DIR] [MAX_FRAMES]
set -euo pipefail
B=${1:-build-sam2}
MAXF=${2:-10}
S=../shared
M=resources/zoo/sam2-micro/model.safetensors
AD=resources/zoo/sam2-micro/model.swr_adapter.safetensors
OUT=${OUT:-$(mktemp -d)}; mkdir -p $OUT
PY=/usr/bin/python3
C="${CSTUDIO:-$B/app/cli/cstudio} --threads 2"
[ -f "$AD" ] || { echo "no adapter $AD (cstudio train swr-adapter $M ...)" >&2; exit 1; }
echo "raw JSON in $OUT" >&2
s0=$(date +%s)
$B/tests/sam2/test_sam2_parity > $OUT/test_sam2_parity.log 2>&1 || true
echo "$(grep -E '^Totals' $OUT/test_sam2_parity.log) ($(( $(date +%s) - s0 )) s wall)" > $OUT/test_sam2_parity.totals
run() {  # run NAME ARGS... : full model (with --gt if given) and SWR + SMR against it
  local name=$1; shift
  $C segment $M "$@" --max-frames $MAXF --json --stats $OUT/$name.full.json > $OUT/$name.full.out.json
  $C segment $M "$@" --max-frames $MAXF --swr --adapter $AD --smr --compare-full --json \
    --stats $OUT/$name.both.json > $OUT/$name.both.out.json
}
# held-out synthetic clips with the committed weights and adapter (section 2, first table)
$C bench sam2-synth $M --videos 16 --frames 16 --device cpu --json > docs/results/efficient_sam2_synth_vm.json
echo "synthetic clips done" >&2
for v in blackswan car-shadow; do
  box=$($PY -c "
from PIL import Image
im=Image.open('$S/data/davis2016/Annotations/480p/$v/00000.png').convert('L')
print('%d,%d,%d,%d'%im.point(lambda p: 255 if p else 0).getbbox())")
  run $v --video $S/data/davis2016/JPEGImages/480p/$v --box $box --gt $S/data/davis2016/Annotations/480p/$v
  echo "$v done" >&2
done
run bedroom --video $S/data/videos/bedroom --point 400,210
$PY docs/results/efficient_sam2_md.py "$OUT" "$MAXF" > docs/results/efficient_sam2.md
echo "wrote docs/results/efficient_sam2.md" >&2
