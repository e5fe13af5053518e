"""`forecast fit`: train a recurrent forecaster on a file or bundled dataset and save it to a folder."""

from __future__ import annotations

import argparse

from forecast.cli.common import (
    add_command,
    add_common,
    add_interval_options,
    add_rnn_options,
    add_threads,
    add_window_options,
    apply_threads,
    check_columns,
    floats,
    interval_settings,
    note,
    note_extra_columns,
    positive_int,
    read,
    rnn_settings,
    show_progress,
    window_spec,
)

EXAMPLE = """examples:
  forecast fit seattle-weather --target temp_max --features precipitation,wind --calendar dayofyear \\
      --model lstm --lookback 30 --horizon 1 --max-epochs 100 --out models/seattle-lstm
  forecast fit etth1 --target HUFL,HULL,MUFL,MULL,LUFL,LULL,OT --model gru --lookback 96 --horizon 96 \\
      --head segments --segment 24 --channel-independent --normalize revin --out models/etth1-gru
  forecast fit prices.csv --id-col ticker --target close --model gru --lookback 60 --horizon 5 \\
      --quantiles 0.1,0.5,0.9 --out models/prices-gru
  forecast fit seattle-weather --target temp_max --model gru --distribution studentt --out models/seattle-gru-t
  forecast fit seattle-weather --target temp_max --model ridge --intervals 0.8,0.95 --out models/seattle-ridge

DATA is a CSV/Parquet file (a time column and one column per variable; a long file adds a series
column, named with --id-col) or a bundled dataset name (see `forecast datasets`). Columns not named by
--target/--features/--known-future/--categorical are ignored (a note lists them). Missing values and
skipped timestamps of a regular calendar are kept as holes: windows that touch one are not trained on
(--missing chooses another policy, --sort sorts an out-of-order file). The last --val-size of each series is held out for
early model selection; the printed validation loss is in scaled units (MSE, or pinball with --quantiles).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "fit", help="train an RNN/GRU/LSTM forecaster and save it to a folder",
        description="Train a recurrent forecaster on DATA and save it (weights + JSON, no pickle) to --out.",
        epilog=EXAMPLE, data=True,
    )
    add_window_options(p)
    p.add_argument("--model", default="lstm", help="registered model name: lstm, gru or rnn (default lstm)")
    add_rnn_options(p)
    p.add_argument("--hidden-size", type=positive_int, help="hidden units per layer (default 64)")
    p.add_argument("--layers", type=positive_int, help="stacked recurrent layers (default 1)")
    p.add_argument("--lr", type=float, help="learning rate (default 1e-3)")
    p.add_argument("--batch-size", type=positive_int, help="training windows per batch (default 64)")
    p.add_argument("--seed", type=int, help="random seed (default 0): same seed, same model")
    p.add_argument("--val-size", type=float,
                   help="fraction of each series (its end) held out for validation (default 0.1)")
    p.add_argument("--quantiles", type=floats, metavar="Q[,Q]",
                   help="train prediction intervals at these quantiles, e.g. 0.1,0.5,0.9 (pinball loss)")
    add_interval_options(p)
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder to save the model to: a new or empty folder, or a model folder to replace")
    add_threads(p)
    add_common(p)
    p.set_defaults(handler=handle)


def _build_model(args: argparse.Namespace):
    """A new, unfitted model from the registry, with the command-line settings applied (an option the
    model lacks is an InputError naming it)."""
    from forecast.errors import InputError
    from forecast.models import registry

    if registry.known(args.model) and not registry.get(args.model).saveable:
        saveable = [n for n in registry.names() if registry.get(n).saveable]
        raise InputError(f"model {args.model!r} cannot be saved for `forecast predict`; "
                         f"choose one of: {', '.join(saveable)}")
    chosen = {
        "hidden_size": args.hidden_size, "num_layers": args.layers, "lr": args.lr,
        "batch_size": args.batch_size, "seed": args.seed, "val_size": args.val_size,
    }
    chosen = {k: v for k, v in chosen.items() if v is not None} | rnn_settings(args)
    if args.quantiles and args.distribution:
        raise InputError("--quantiles and --distribution are two ways to train intervals; keep one")
    if args.quantiles:
        chosen.update(task="quantile", quantiles=tuple(args.quantiles))
    return registry.build(args.model, shared={"progress_bar": show_progress(args)}, **chosen,
                          **interval_settings(args))


def _summary(model, name: str) -> str:
    """One line: what was trained and, for a recurrent model, for how long and its best validation loss."""
    from forecast.models import registry

    line = f"trained {name} on {len(model.series_ids_)} series"
    if not registry.get(name).recurrent:
        return line
    line += f" for {model.n_epochs_} epochs in {model.fit_seconds_:.1f}s"
    if model.best_val_loss_ is None:
        return line + "; no validation windows (raise --val-size to select on held-out data)"
    epoch = min(model.history_, key=lambda h: h.get("val_loss", float("inf")))["epoch"] + 1
    unit = model.loss if model.task == "regression" else model.task
    return line + f"; best validation loss {model.best_val_loss_:.4g} (scaled {unit}) at epoch {epoch}"


def handle(args: argparse.Namespace) -> int:
    from forecast.artifacts import check_model_dir
    from forecast.errors import InputError
    from forecast.models import registry
    from forecast.models.conformal import ConformalForecaster
    from forecast.models.training import still_improving

    check_model_dir(args.out)  # before reading or training: never lose an hour to a bad --out
    spec = window_spec(args)
    model = _build_model(args)
    apply_threads(args)
    frame = read(args.data, args.time_col, args.id_col, spec.numeric_inputs, missing=args.missing, sort=args.sort)
    source = frame.attrs["source"]
    if spec.id_col is None and frame.index.has_duplicates:  # a bundled long dataset fit as one series
        raise InputError(f"{source}: several rows share a timestamp; name the series column with --id-col")
    check_columns(frame, spec, source)
    note_extra_columns(frame, [*spec.columns, *([spec.id_col] if spec.id_col else [])], source)
    model.fit(frame, spec)
    model.save(args.out)
    calibrated = isinstance(model, ConformalForecaster)
    fitted = model.forecaster_ if calibrated else model
    print(_summary(fitted, args.model))
    if calibrated:
        print(f"conformal intervals at {', '.join(f'{lv:g}' for lv in model.levels_)} from "
              f"{len(model.residuals_)} out-of-sample errors")
    recurrent = registry.get(args.model).recurrent
    if recurrent and still_improving(fitted.history_):
        note(f"the best validation loss came at the last epoch ({fitted.n_epochs_}): still improving: "
             "raise --max-epochs")
    skipped = fitted.skipped_series_ if recurrent else []
    if skipped:
        note(f"{len(skipped)} series too short for lookback + horizon were not trained on: "
             f"{', '.join(map(str, skipped[:3]))}{', ...' if len(skipped) > 3 else ''}")
    print(f"saved model to {args.out}  (forecast with: forecast predict --model {args.out} DATA --out forecasts.csv)")
    return 0
