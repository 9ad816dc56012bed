#!/bin/bash
# The device runs behind docs/results/efficient_sam2_gpu.json (run through the device tool on the
# H100 machine, LibTorch-only: CS_MINIMAL build). Expects a source snapshot .gpu/src_eff.tgz
# (`git archive HEAD CMakeLists.txt cmake engine compression app/cli arena resources/zoo/sam2-micro`),
# .gpu/include (CLI11, nlohmann, zlib headers) and .gpu/fmnist (Fashion-MNIST idx.gz, for the
# synthetic clips); carry those. Writes $OUT/bench_{tiny,large}.json and $OUT/synth_{cuda,cpu}.json.
# (Session 5 ran the bench part and the synth part as two calls: 133 s and 246 s.)
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
S=/tmp/src; rm -rf $S; mkdir -p $S; tar -xzf .gpu/src_eff.tgz -C $S; cp -r .gpu $S/; cd $S
export CSTUDIO_FMNIST=$S/.gpu/fmnist
L=$OUT/log.txt; mkdir -p $OUT
nvidia-smi -L >> $L; nproc >> $L
cmake -S . -B /tmp/b -G Ninja -DCMAKE_BUILD_TYPE=Release -DCS_MINIMAL=ON -DCS_THIRD_PARTY_INCLUDE=$S/.gpu/include \
  -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)') > /tmp/build.log 2>&1 \
  && ninja -C /tmp/b cstudio >> /tmp/build.log 2>&1 || { tail -60 /tmp/build.log | tee -a $L; exit 1; }
echo "build done at $(el) s" | tee -a $L
C=/tmp/b/app/cli/cstudio; M=resources/zoo/sam2-micro/model.safetensors
# PART=davis (session 7): only the benches at the DAVIS routing fractions, i.e. what the router
# selects on the DAVIS-2016 ground truth at each size's window grid, computed on the dev VM by
#   cstudio bench swr-coverage --size tiny|large --masks <davis>/blackswan,<davis>/car-shadow --json
# (docs/results/efficient_sam2_swr_coverage.json): blackswan, car-shadow and their mean.
if [ "${PART:-all}" = davis ]; then
  $C bench sam2 --size tiny --device cuda --frames 16 --warmup 8 --swr-selected 0.311,0.189,0.250 --json > $OUT/bench_davis_tiny.json
  $C bench sam2 --size large --device cuda --frames 16 --warmup 8 --swr-selected 0.576,0.281,0.429 --json > $OUT/bench_davis_large.json
  echo "end at $(el) s" | tee -a $L
  exit 0
fi
for sz in tiny large; do
  $C bench sam2 --size $sz --device cuda --frames 16 --warmup 8 --swr-selected 0.25,0.5,0.75 --json > $OUT/bench_$sz.json
done
for d in cuda cpu; do
  $C bench sam2-synth $M --videos 16 --frames 16 --device $d --json > $OUT/synth_$d.json
done
echo "end at $(el) s" | tee -a $L
