#!/usr/bin/env bash
# The scaling study on one GPU machine (the `device` tool), from the repository root:
#   bash tools/gpu_scaling.sh bundle                                    # here, once: build runs/gpu-bundle
#   bash tools/gpu_scaling.sh prep DATA "SET:SEEDS ..."                 # embed on the GPU, one folder per seed
#   bash tools/gpu_scaling.sh run DATA "VARIANTS" WORKERS SECONDS TAG   # jobs in parallel -> $OUT/TAG.jsonl
#   bash tools/gpu_scaling.sh speed                                     # cube_bench --suite train, cold then warm cache
#   bash tools/gpu_scaling.sh e2e RUN                                   # all chitchat: cube_train + cube_eval, timed
#   bash tools/gpu_scaling.sh ab OLD                                    # e2e of the cube_nb in OLD, then of this one
#   bash tools/gpu_scaling.sh embeddings FOLDER                         # teacher suite, e2e, data suite (issue 31)
#   bash tools/gpu_scaling.sh figures FOLDER                            # warm Triton, e2e, teacher cold, data suite
#   bash tools/gpu_scaling.sh profile RUN                               # train, eval in cProfile, then e2e (the figure)
#   bash tools/gpu_scaling.sh leakfree ROOT "SET ..."                   # 3 seeds: cube_eval leak-free and --bank all
#   bash tools/gpu_scaling.sh tune ROOT TRIALS WORKERS SECONDS          # the retrieval preset: Jargon + 20k chitchat
#   bash tools/gpu_scaling.sh retrieval "SET:REGIMES ..." SECONDS       # tools/retrieval_study.py, sets in parallel
# (runs/wheels also holds optuna 5.0.0 and its pure-Python dependencies for `tune`: pip download --no-deps)
# (DTYPE=float16 before prep: the teacher in half precision, as configs/chitchat-full.yaml runs it)
# e.g. bash tools/gpu_scaling.sh prep /tmp/d "jargon:0,1,2" && bash tools/gpu_scaling.sh run /tmp/d "10k 40k" 6 450 j
# Carried (ignored paths): runs/wheels (fastcore and fastprogress wheels, which the image lacks) and runs/gpu-bundle:
# MiniLM's folder with its weights stored in float16 (the transfer limit; the teacher computes in float32) and the
# chitchat corpus package with its dataset.json as .xz.
set -u
if [ "$1" = bundle ]; then  # on this machine, with the project's venv; also: pip download fastcore/fastprogress wheels
  mkdir -p runs/wheels runs/gpu-bundle/chitchat_dataset
  .venv/bin/python -m pip download -q --no-deps fastcore==1.14.5 fastprogress==1.1.6 -d runs/wheels
  .venv/bin/python - <<'PY'
import lzma, shutil
from pathlib import Path
import chitchat_dataset
from safetensors.torch import load_file, save_file
from cube_nb.teachers import minilm_path
src, dst = minilm_path(), Path("runs/gpu-bundle/minilm-fp16")
skip = shutil.ignore_patterns("model.safetensors", "README.md", "data_config.json")
shutil.copytree(src, dst, dirs_exist_ok=True, ignore=skip)
sd = load_file(src / "model.safetensors")
half = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
save_file(half, dst / "model.safetensors", {"format": "pt"})
pkg = Path(chitchat_dataset.__file__).parent
shutil.copy(pkg / "__init__.py", "runs/gpu-bundle/chitchat_dataset/__init__.py")
xz = "runs/gpu-bundle/chitchat_dataset/dataset.json.xz"
with open(pkg / "dataset.json", "rb") as f, lzma.open(xz, "wb", preset=9) as g:
    shutil.copyfileobj(f, g)
PY
  du -sh runs/gpu-bundle runs/wheels
  exit
fi
export PYTHONPATH=$PWD:/tmp/site OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 CUBE_NB_CACHE=/tmp/cube-cache PYTHONUNBUFFERED=1
# The image ships no .pyc and sets PYTHONDONTWRITEBYTECODE: every process compiled ~7 s of source (torch, transformers,
# sklearn), which an installed environment does once. Written here once, as pip would have.
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX=/tmp/pycache
setup() {  # the wheels the image lacks and the chitchat corpus package, unpacked under /tmp/site
  python -m pip install --no-deps -q runs/wheels/*.whl 2>&1 | grep -v -i warn
  site=/tmp/site/chitchat_dataset
  mkdir -p $site && cp runs/gpu-bundle/chitchat_dataset/__init__.py $site/
  [ -f $site/dataset.json ] || \
    python -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" \
    runs/gpu-bundle/chitchat_dataset/dataset.json.xz $site/dataset.json
}
cli() { python -c "import sys; from cube_nb import cli; sys.exit(getattr(cli, sys.argv.pop(1))())" "$@"; }
warm() {  # a 5,000-pair run into folder $1: the same Triton kernels and .pyc files compiled as a full run's
  cli train_main --config configs/chitchat-full.yaml --teacher runs/gpu-bundle/minilm-fp16 --out $1 --force \
    data.max_pairs=5000 epochs=1 > $OUT/warm.txt 2>&1
}
stamp() {  # each line behind the seconds since $1 (when the command started)
  while IFS= read -r l; do printf '%6.1fs %s\n' "$(( $(date +%s%N) - $1 ))e-9" "$l"; done
}
e2e() {  # RUN [LOG]: from the corpus's text to an evaluated run, the teacher on the GPU in half precision
  local start=$(date +%s%N) log=${2:-$OUT/e2e.log}
  cli train_main --config configs/chitchat-full.yaml --teacher runs/gpu-bundle/minilm-fp16 --out $1 --force \
    2>&1 | stamp $start | tee -a $log
  [ ${PIPESTATUS[0]} = 0 ] || return 1
  local mid=$(date +%s%N)
  cli eval_main --run $1 2>&1 | stamp $mid | tee -a $log  # its lines say when each baseline and mapper was done
  [ ${PIPESTATUS[0]} = 0 ] || return 1
  local end=$(date +%s%N)
  echo "cube_train $(( (mid - start) / 1000000 )) ms, cube_eval $(( (end - mid) / 1000000 )) ms" | tee -a $log
  echo "cube_train + cube_eval on all chitchat: $(( (end - start) / 1000000000 ))s" | tee -a $log
  python -c "import json, sys; print('seconds', json.load(open(sys.argv[1]))['seconds'])" $1/metrics.json | tee -a $log
}
if [ "$1" = speed ]; then  # each in a fresh process: the Triton cache emptied first, then as the first run left it
  setup
  rm -rf $CUBE_NB_CACHE/triton
  for cache in cold warm; do
    echo "== $cache Triton cache" | tee -a $OUT/speed.txt
    cli bench_main --suite train --device cuda --batch 1024 --json 2>&1 | grep -v -i warn | tee -a $OUT/speed.txt \
      | grep -v "^{"
  done
  exit
fi
if [ "$1" = embeddings ]; then  # cube_bench's teacher suite (fp16, 100,000 chitchat texts), e2e, then the data suite
  setup
  cli bench_main --suite teacher --device cuda --dtype float16 --data chitchat --texts 100000 \
    --teacher runs/gpu-bundle/minilm-fp16 --json 2>&1 | grep -v -i warn | tee $OUT/teacher.txt
  mkdir -p $2
  rm -rf $CUBE_NB_CACHE/embeddings  # e2e with a cold embedding cache (the Triton cache as earlier runs left it)
  e2e $2/e2e 2>&1 | grep -v -i warn | tail -4 | tee $OUT/e2e.txt
  [ -n "${NO_DATA:-}" ] || cli bench_main --suite data --device cuda --batch 1024 --sizes 100000 1000000 10000000 \
    --steps 2000 --folder $2 --json 2>&1 | grep -v -i warn | tee $OUT/data.txt
  exit
fi
if [ "$1" = profile ]; then  # cube_train then cube_eval in cProfile (cold caches), then the figure: e2e, warm Triton
  setup
  printf 'import sys\nfrom cube_nb import cli\nsys.exit(getattr(cli, sys.argv.pop(1))())\n' > /tmp/cli.py
  [ -n "${WARM:-}" ] && warm $2-warm  # WARM=1: a warm Triton cache first
  for cmd in "train_main --config configs/chitchat-full.yaml --teacher runs/gpu-bundle/minilm-fp16 --out $2 --force" \
      "eval_main --run $2"; do
    start=$(date +%s%N)
    python -m cProfile -o $OUT/${cmd%% *}.prof /tmp/cli.py $cmd 2>&1 | grep -v -i warn > $OUT/${cmd%% *}.txt
    echo "${cmd%% *}: $(( ($(date +%s%N) - start) / 1000000 )) ms" | tee -a $OUT/profile.txt
  done
  cp $2/timing.json $2/metrics.json $OUT/
  [ -n "${NO_E2E:-}" ] && exit  # NO_E2E=1: the profiles only
  rm -rf $CUBE_NB_CACHE/embeddings
  e2e $2 2>&1 | grep -v -i warn | tail -1 | tee $OUT/e2e.txt
  exit
fi
if [ "$1" = figures ]; then  # issue 31's figures: e2e (cold embeddings, warm Triton), the teacher cold, data suite
  setup
  warm $2/warm
  rm -rf $CUBE_NB_CACHE/embeddings
  e2e $2/e2e 2>&1 | grep -v -i warn | tail -3 | tee $OUT/e2e.txt
  [ -n "${COLD:-}" ] && python tools/teacher_cold.py runs/gpu-bundle/minilm-fp16 2>&1 | grep -v -i warn \
    | tee $OUT/teacher-cold.txt
  cli bench_main --suite data --device cuda --batch 1024 --sizes 100000 1000000 10000000 \
    --steps 2000 --folder $2 --json 2>&1 | grep -v -i warn | tee $OUT/data.txt
  exit
fi
if [ "$1" = ab ]; then  # ab OLD: e2e of the library in folder OLD (a cube_nb package), then of this one, one machine
  setup
  warm /tmp/ab-warm
  for lib in $2 .; do
    rm -rf $CUBE_NB_CACHE/embeddings
    echo "== library in $lib" >> $OUT/ab.log
    PYTHONPATH=$PWD/$lib:$PYTHONPATH e2e /tmp/ab-run $OUT/ab.log 2>&1 | grep -v -i warn | tail -3
  done
  exit
fi
if [ "$1" = e2e ]; then
  setup
  e2e $2
  exit
fi
if [ "$1" = leakfree ]; then  # seeds 0 1 2 of each SET (configs/SET.yaml): cube_train, cube_eval leak-free and old rule
  setup
  for set_ in $3; do
    for s in 0 1 2; do
      run=$2/$set_/seed-$s
      start=$(date +%s)
      cli train_main --config configs/$set_.yaml --teacher runs/gpu-bundle/minilm-fp16 --out $run --force \
        seed=$s data.seed=$s device=cuda > /dev/null 2>&1 || { echo "$run: training failed"; exit 1; }
      cli eval_main --run $run --bank all > /dev/null 2>&1 || { echo "$run: cube_eval --bank all failed"; exit 1; }
      cli eval_main --run $run 2>&1 | grep -v -i warn | grep -v "^baseline \|^scoring" > $run/eval.txt || exit 1
      mkdir -p $OUT/$set_/seed-$s && cp $run/metrics*.json $run/timing.json $run/eval.txt $OUT/$set_/seed-$s/
      echo "$set_ seed $s: $(( $(date +%s) - start ))s"
    done
  done
  exit
fi
if [ "$1" = tune ]; then  # cube_tune on Jargon and 20,000 chitchat pairs jointly, WORKERS processes on one study
  setup
  python -c "import yaml, sys; p = yaml.safe_load(open('configs/retrieval.yaml')); \
p['data'] = yaml.safe_load(open('configs/chitchat-20k.yaml'))['data']; yaml.safe_dump(p, open(sys.argv[1], 'w'))" \
    /tmp/retrieval-chitchat-20k.yaml
  for i in $(seq 0 $(( $4 - 1 ))); do
    timeout $5 python -c "import sys; from cube_nb import cli; sys.exit(cli.tune_main())" \
      --config configs/retrieval.yaml \
      --also /tmp/retrieval-chitchat-20k.yaml --space configs/space-retrieval.yaml --objective R1 --trials $3 \
      --teacher runs/gpu-bundle/minilm-fp16 --root $2 --worker $i device=cuda > $OUT/tune-log-$i.txt 2>&1 &
    [ $i = 0 ] && sleep 45  # the first worker creates the study and fills the embedding cache
  done
  wait
  cp $2/study.db $2/best.yaml $OUT/ 2>/dev/null; cat $OUT/tune-log-*.txt | grep -v -i warn | tail -n 60
  exit
fi
if [ "$1" = retrieval ]; then  # one process per SET and seed, each running its REGIMES (comma-separated)
  setup  # rows already in nbs/files/retrieval are not run again: a study cut off goes on in the next call
  for spec in $2; do
    set_=${spec%%:*}; regimes=${spec#*:}
    for s in 0 1 2; do
      f=$OUT/retrieval-$set_-$s.jsonl
      [ -f nbs/files/retrieval/$set_.jsonl ] && grep "\"seed\": $s," nbs/files/retrieval/$set_.jsonl > $f
      python tools/retrieval_study.py $set_ $f --seeds $s --regimes ${regimes//,/ } --device cuda \
        --teacher runs/gpu-bundle/minilm-fp16 --minutes $(( $3 / 60 )) ${EXTRA:-} > $OUT/log-$set_-$s.txt 2>&1 &
      sleep 2
    done
  done
  wait
  for spec in $2; do
    cat $OUT/retrieval-${spec%%:*}-*.jsonl > $OUT/${spec%%:*}.jsonl
    rm $OUT/retrieval-${spec%%:*}-*.jsonl
    grep -v -i warn $OUT/log-${spec%%:*}-*.txt | tail -n 30; done
  exit
fi
if [ "$1" = prep ]; then
  setup
  start=$(date +%s)
  for spec in $3; do
    set_=${spec%%:*}; seeds=${spec#*:}
    python tools/scaling_study.py prep $set_ $2 --seeds ${seeds//,/ } --device cuda \
      --teacher runs/gpu-bundle/minilm-fp16 --dtype ${DTYPE:-float32} || exit 1
  done
  echo "prep $(( $(date +%s) - start ))s"
else
  for i in $(seq 0 $(( $4 - 1 ))); do
    timeout $5 python tools/scaling_study.py run $2 $OUT/$6-$i.jsonl --device cuda --engine ${ENGINE:-auto} \
      --worker $i --workers $4 --variants $3 ${EXTRA:-} > $OUT/$6-log-$i.txt 2>&1 &
  done
  wait
  cat $OUT/$6-[0-9]*.jsonl > $OUT/$6.jsonl 2>/dev/null; cat $OUT/$6-log-*.txt > $OUT/$6-log.txt
  rm -f $OUT/$6-[0-9]*.jsonl $OUT/$6-log-*.txt
  echo "$6: $(grep -c . $OUT/$6.jsonl) rows"; grep -v Warning $OUT/$6-log.txt | grep -v stddev | tail -n 20
fi
