#!/usr/bin/env bash
# The data suite with an earlier commit's reader against this tree's, interleaved, on one GPU machine (`device`):
#   here:   mkdir -p runs/scratch/old && git show COMMIT:cube_nb/training.py > runs/scratch/old/training.py
#   there:  bash tools/reader_ab.sh "old new old new" "1000000"
#           (carry runs/wheels, runs/gpu-bundle and runs/scratch/old)
# Recorded in nbs/files/embeddings/reader-ab-h100.txt (COMMIT eb7c917: two reading threads; now: worker processes).
source <(sed -n '/^export PYTHONPATH/,/^}/p' tools/gpu_scaling.sh)  # the environment and setup() of gpu_scaling.sh
setup
rm -rf /tmp/old && mkdir -p /tmp/old /tmp/ab && cp -r cube_nb /tmp/old/
cp runs/scratch/old/training.py /tmp/old/cube_nb/
for v in $1; do
  pp=$PWD
  [ $v = old ] && pp=/tmp/old
  echo "== $v reader" | tee -a $OUT/ab.txt
  PYTHONPATH=$pp:/tmp/site python -c "import sys; from cube_nb import cli; sys.exit(cli.bench_main())" --suite data \
    --device cuda --batch 1024 --sizes $2 --steps 2000 --folder /tmp/ab 2>&1 | grep -v -i warn | grep -v "^\[" \
    | tee -a $OUT/ab.txt
done
