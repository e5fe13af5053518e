#!/usr/bin/env bash
# SegRNN's own code on this machine: how much does its published ETTh1 L=96 row move with the seed?
#
# Runs the authors' reference implementation (github.com/lss-1138/SegRNN, commit 8e869ec), not ours, with
# the settings of its scripts/SegRNN/Lookback_96/etth1.sh, on the CPU with one thread, once per seed, and
# prints its final "mse:..., mae:..." line per seed. Nothing of that repository is copied into forecast/;
# it is cloned into WORKDIR. Two changes, both needed to run it here and neither touching the model:
# numpy 2 removed np.Inf (utils/tools.py uses it), and --num_workers 0 (no data-loader processes).
#
# usage: experiments/benchmarks/segrnn_reference.sh WORKDIR HORIZON SEED [SEED ...]
#   e.g. experiments/benchmarks/segrnn_reference.sh /tmp/segrnn 720 2024 1
# needs: git, network access to github.com (or WORKDIR already holding a clone), this repo's venv python.
# cost: about 4 CPU minutes per epoch at H=720 (it also scores the test set every epoch), 10-20 epochs.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 WORKDIR HORIZON SEED [SEED ...]" >&2
    exit 2
fi
here="$(cd "$(dirname "$0")/../.." && pwd)"
python="${PYTHON:-$here/.venv/bin/python}"
workdir="$1"; horizon="$2"; shift 2
if [ ! -d "$workdir/.git" ]; then
    git clone -q https://github.com/lss-1138/SegRNN "$workdir"
    git -C "$workdir" checkout -q 8e869ecfdf1daab3a0ba14d1d620796c1a5d2c4f
fi
mkdir -p "$workdir/dataset" "$workdir/logs"
cp "$here/datasets/ETTh1.csv" "$workdir/dataset/ETTh1.csv"
sed -i 's/np\.Inf/np.inf/' "$workdir/utils/tools.py"
cd "$workdir"
for seed in "$@"; do
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 "$python" -u run_longExp.py --is_training 1 --root_path ./dataset/ \
        --data_path ETTh1.csv --model_id "ETTh1_96_${horizon}_s${seed}" --model SegRNN --data ETTh1 \
        --features M --seq_len 96 --pred_len "$horizon" --seg_len 24 --enc_in 7 --d_model 512 --dropout 0.5 \
        --train_epochs 30 --patience 10 --rnn_type gru --dec_way pmf --channel_id 1 --loss mse --itr 1 \
        --batch_size 256 --learning_rate 0.001 --num_workers 0 --random_seed "$seed" \
        > "logs/h${horizon}_s${seed}.log" 2>&1
    echo "seed $seed: $(grep '^mse:' "logs/h${horizon}_s${seed}.log" | tail -1)"
done
