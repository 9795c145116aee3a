#!/usr/bin/env bash
# The CPU recipe of the shipped model (celltrack/model_zoo/CellTrack-R18-FPN-cpu/MODEL_CARD.md, steps 1-3: detector
# + track head, the linker retrained on full frames, the second stage) run unchanged but for MODEL.DEVICE and the
# data loader's workers, on a lent GPU machine through the device tool, where the 64 MiB working tree carries the
# training movies packed by pack_data.py (.devdata) and the pure-Python dependencies (.devpkgs, see benchmarks/device/README.md). Options after the script go to both training stages (e.g. a longer SOLVER.MAX_ITER; both stages get the same).
#   bash benchmarks/device/train_recipe.sh SOLVER.MAX_ITER 4000
# Writes, under $OUT: the weights of the last finished step in float16 (stage 1 + linker, then stage 2; split into
# 15 MiB parts model_fp16.pth.part*, `cat` joins them), each stage's metrics.json, the linker's config and run.log
# (logs, timings). Stage 2 is skipped when what is left of BUDGET_S (default 570 s) would not hold it.
set -euo pipefail
export PYTHONPATH=${PKGS:-$PWD/.devpkgs}:$PWD PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/celltrack-device-out}; WORK=${WORK:-/tmp/celltrack-device}; DEVICE=${DEVICE:-cuda}
BUDGET_S=${BUDGET_S:-570}; WORKERS=${WORKERS:-8}; LINKER_EPOCHS=${LINKER_EPOCHS:-15}
mkdir -p "$OUT" "$WORK"
start=$(date +%s); elapsed() { echo $(( $(date +%s) - start )); }
note() { echo "$(elapsed) s: $*" | tee -a "$OUT/run.log"; }
python3 benchmarks/device/pack_data.py unpack .devdata/data.pack --data "$WORK/data"
export CELLTRACK_DATA=$WORK/data
python3 -c "import celltrack, torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
note "data unpacked"
common=(MODEL.DEVICE "$DEVICE" DATALOADER.NUM_WORKERS "$WORKERS" "$@")
ship() {  # $1: checkpoint -> $OUT/model_fp16.pth.part*
  rm -f "$OUT"/model_fp16.pth.part*
  python3 -c "import sys; from celltrack import model_zoo; model_zoo.slim_checkpoint(sys.argv[1], sys.argv[2])" \
      "$1" "$WORK/model_fp16.pth"
  split -b 15M -d "$WORK/model_fp16.pth" "$OUT/model_fp16.pth.part"
}
python3 tools/train_net.py --config-file configs/CellTrack-R18-FPN-cpu.yaml DATASETS.TEST "()" \
    OUTPUT_DIR "$WORK/stage1" "${common[@]}" >>"$OUT/run.log" 2>&1 || { tail -40 "$OUT/run.log"; exit 1; }
grep "eta:" "$OUT/run.log" | tail -1 || true
cp "$WORK/stage1/metrics.json" "$OUT/stage1_metrics.json"
note "stage 1 done"
stage1_s=$(elapsed)
linker() {  # $1: device
  python3 tools/train_linker.py --config-file configs/CellTrack-R18-FPN-cpu.yaml --weights "$WORK/stage1/model_final.pth" \
      --output "$WORK/linker1" --overwrite --device "$1" --epochs "$LINKER_EPOCHS" \
      MODEL.TRACK_HEAD.POSITION_ENCODING polar MODEL.TRACK_HEAD.NUM_NEIGHBORS 8 >>"$OUT/run.log" 2>&1
}
linker "$DEVICE" || { tail -20 "$OUT/run.log"; note "the linker failed on $DEVICE; again on cpu"; linker cpu; } \
    || { tail -40 "$OUT/run.log"; exit 1; }
cp "$WORK/linker1/config.yaml" "$OUT/linker1_config.yaml"
ship "$WORK/linker1/model_final.pth"
note "linker on stage 1 done, its weights returned"
if [ $(( $(elapsed) + stage1_s * 6 / 10 + 30 )) -gt "$BUDGET_S" ]; then
  note "stage 2 skipped: what is left of BUDGET_S would not hold it"; exit 0
fi
python3 tools/train_net.py --config-file configs/CellTrack-R18-FPN-cpu-stage2.yaml MODEL.WEIGHTS "$WORK/linker1/model_final.pth" \
    OUTPUT_DIR "$WORK/stage2" "${common[@]}" >>"$OUT/run.log" 2>&1 || { tail -40 "$OUT/run.log"; exit 1; }
grep "eta:" "$OUT/run.log" | tail -1 || true
cp "$WORK/stage2/metrics.json" "$OUT/stage2_metrics.json"
ship "$WORK/stage2/model_final.pth"
note "stage 2 done, its weights returned"
