#!/usr/bin/env bash
# Trains every row of the sample benchmark's table for the given seeds, as its protocol says
# (docs/sample-benchmark.md, "Version 2 protocol"): per seed the phase-1 branches (rows V,
# F, A, with a checkpoint set each under OUT/s<seed>/rows-<m>), PAMFN's phase 2 on them, and
# weighted late fusion (one stage), on every apparatus. Seeds run as parallel processes
# (one thread each); each logs to OUT/s<seed>/log.txt and its times to OUT/times.txt.
# Usage: bash scripts/train_sample_table.sh DATA OUT "0 1 2" [recipe options...]
set -euo pipefail
data=$1 out=$2 seeds=$3
shift 3
recipe=(--preset rg --d 32 --K 4 --threads 1 --quiet "$@")

one_seed() {
  local s=$1 dir=$out/s$1 t0=$SECONDS
  mkdir -p "$dir"
  {
    python -m pamfn train --data "$data" --action all --phase 1 --seed "$s" --out "$dir/phase1" "${recipe[@]}"
    local t1=$SECONDS
    for m in V F A; do
      python -c "import sys; from pamfn.serving import write_index; from pamfn.synth.config import ACTIONS
write_index(sys.argv[1], {a: f'../phase1/{a}/branches/{sys.argv[2]}' for a in ACTIONS})" "$dir/rows-$m" "$m"
    done
    python -m pamfn train --data "$data" --action all --phase 2 --branches "$dir/phase1" --seed "$s" --out "$dir/pamfn" "${recipe[@]}"
    local t2=$SECONDS
    python -m pamfn train --data "$data" --action all --model late_fusion --fusion weighted --training one_stage \
      --seed "$s" --out "$dir/late-fusion" "${recipe[@]}"
    echo "seed $s: phase 1 $((t1 - t0)) s, PAMFN phase 2 $((t2 - t1)) s, late fusion $((SECONDS - t2)) s (wall)" >> "$out/times.txt"
  } > "$dir/log.txt" 2>&1
}

mkdir -p "$out"
for s in $seeds; do
  one_seed "$s" &
done
wait
cat "$out/times.txt"
