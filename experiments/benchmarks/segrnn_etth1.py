"""ETTh1 (the benchmark's protocol) for the SegRNN-style recurrent options: one (setting, horizon, cell) row as JSON.

Issue 16's probe for single rows (`forecast benchmark etth1 --recipe segments` runs the whole table). E.g.
    python experiments/benchmarks/segrnn_etth1.py --horizon 96 --cell gru --segment 24 --head segments \
        --channel-independent --channel-embedding-dim 256 --hidden-size 512 --dropout 0.5 --lr 1e-3
"""

import argparse
import json
import sys

import torch

from forecast.benchmarks.etth1 import Cell, ETTh1Config, load_protocol, run_model
from forecast.benchmarks.window_models import RecurrentSettings


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", default="multivariate", choices=("univariate", "multivariate"))
    p.add_argument("--horizon", type=int, default=96)
    p.add_argument("--lookback", type=int, default=96)
    p.add_argument("--cell", default="gru", choices=("rnn", "gru", "lstm"))
    p.add_argument("--head", default="segments", choices=("direct", "segments"))
    p.add_argument("--segment", type=int, default=24)
    p.add_argument("--channel-independent", action="store_true")
    p.add_argument("--channel-embedding-dim", type=int, default=0)
    p.add_argument("--normalize", default="last", choices=("none", "last", "revin"))
    p.add_argument("--normalize-affine", action="store_true")
    p.add_argument("--skip", default="none", choices=("none", "linear"))
    p.add_argument("--hidden-size", type=int, default=512)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-schedule", default=None, choices=("cosine", "plateau", "decay"))
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--max-epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--clip", type=float, default=0.0, help="gradient-norm clipping (0: none, as SegRNN)")
    p.add_argument("--limit-train-batches", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    recurrent = RecurrentSettings(
        hidden_size=args.hidden_size, dropout=args.dropout, normalize=args.normalize, skip=args.skip,
        head=args.head, segment=args.segment, channel_independent=args.channel_independent,
        channel_embedding_dim=args.channel_embedding_dim, normalize_affine=args.normalize_affine,
        lr=args.lr, lr_schedule=args.lr_schedule, batch_size=args.batch_size, max_epochs=args.max_epochs,
        patience=args.patience, gradient_clip_val=args.clip,
        limit_train_batches=int(args.limit_train_batches) if args.limit_train_batches > 1 else args.limit_train_batches,
    )
    config = ETTh1Config(horizons=(args.horizon,), settings=(args.setting,), models=(args.cell,),
                         lookbacks=(args.lookback,), recurrent=recurrent, seeds=(args.seed,))
    cell = Cell(args.setting, args.cell, args.lookback, args.horizon, args.seed)
    row = run_model(load_protocol(args.setting), cell, config)
    print(json.dumps({"argv": argv, **row, "recurrent": recurrent.to_dict()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
