"""`forecast fetch`: download prices (Yahoo Finance) or historical weather (Open-Meteo) into a CSV/Parquet file."""

from __future__ import annotations

import argparse

from forecast.errors import InputError

_PRICES_EXAMPLE = "example: forecast fetch prices AAPL MSFT --start 2015-01-01 --out prices.csv"
_WEATHER_EXAMPLE = ("example: forecast fetch weather --lat 47.61 --lon -122.33 --start 2012-01-01 "
                    "--end 2015-12-31 --daily temperature_2m_max,precipitation_sum --out weather.csv")


def register(sub: argparse._SubParsersAction) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "fetch", help="download prices or weather to a file",
        description=f"Download data into a CSV or Parquet file (by the extension of --out); cached on disk "
        f"($FORECAST_CACHE).\n\n{_PRICES_EXAMPLE}\n{_WEATHER_EXAMPLE}",
        formatter_class=raw,
    )
    what = p.add_subparsers(dest="source", metavar="SOURCE", required=True)

    prices = what.add_parser(
        "prices", help="daily or intraday OHLCV bars from Yahoo Finance",
        description="Download OHLCV bars; several tickers give a long file with a ticker column.\n\n"
        + _PRICES_EXAMPLE, formatter_class=raw,
    )
    prices.add_argument("tickers", nargs="+", metavar="TICKER", help="ticker symbols, e.g. AAPL MSFT")
    prices.add_argument("--start", required=True, help="first date, YYYY-MM-DD")
    prices.add_argument("--end", help="end date, YYYY-MM-DD, exclusive (default: today)")
    prices.add_argument("--interval", default="1d", help="bar size: 1d (default), 1wk, 1mo, 1h, 5m, ...")
    prices.add_argument("--unadjusted", action="store_true",
                        help="raw exchange prices instead of split- and dividend-adjusted ones")
    prices.add_argument("--no-cache", action="store_true", help="neither read nor write the on-disk cache")
    prices.add_argument("--out", required=True, help="output file, .csv or .parquet")
    prices.set_defaults(handler=handle_prices)

    weather = what.add_parser(
        "weather", help="daily or hourly historical weather from the Open-Meteo archive",
        description="Download historical weather for one place, start to end inclusive.\n\n" + _WEATHER_EXAMPLE,
        formatter_class=raw,
    )
    weather.add_argument("--lat", type=float, required=True, help="latitude in degrees, -90..90")
    weather.add_argument("--lon", type=float, required=True, help="longitude in degrees, -180..180")
    weather.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    weather.add_argument("--end", required=True, help="last day, YYYY-MM-DD (inclusive)")
    kind = weather.add_mutually_exclusive_group()
    kind.add_argument("--daily", metavar="VARS", help="comma-separated daily variables, e.g. temperature_2m_max")
    kind.add_argument("--hourly", metavar="VARS", help="comma-separated hourly variables, e.g. temperature_2m")
    weather.add_argument("--timezone", default="UTC", help="IANA zone for local days, e.g. America/Los_Angeles")
    weather.add_argument("--no-cache", action="store_true", help="neither read nor write the on-disk cache")
    weather.add_argument("--out", required=True, help="output file, .csv or .parquet")
    weather.set_defaults(handler=handle_weather)


def _check_out(path: str) -> None:
    from forecast.io import check_output_file

    if not path.lower().endswith((".csv", ".parquet", ".pq")):
        raise InputError(f"--out {path}: use a .csv or .parquet file name")
    check_output_file(path)


def handle_prices(args: argparse.Namespace) -> int:
    """Fetch prices, write them atomically, print a one-line summary."""
    from forecast.data.sources.yahoo import load_prices
    from forecast.io import write_table

    _check_out(args.out)
    # A list, even of one ticker, gives the long format: files always carry a ticker column.
    frame = load_prices(list(args.tickers), args.start, args.end, interval=args.interval,
                        adjusted=not args.unadjusted, cache=not args.no_cache)
    write_table(frame, args.out, index=True)
    failed = frame.attrs.get("failed") or {}
    kind = "adjusted" if frame.attrs.get("adjusted") else "unadjusted"
    print(f"wrote {len(frame)} rows of {kind} {args.interval} prices to {args.out}"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 0


def handle_weather(args: argparse.Namespace) -> int:
    """Fetch weather, write it atomically, print a one-line summary."""
    from forecast.data.sources.weather import load_weather
    from forecast.io import write_table

    _check_out(args.out)
    frequency = "hourly" if args.hourly else "daily"
    listed = args.hourly or args.daily
    variables = [v.strip() for v in listed.split(",") if v.strip()] if listed else None
    if listed is not None and not variables:
        raise InputError(f"--{frequency} needs at least one variable name, e.g. temperature_2m")
    frame = load_weather(args.lat, args.lon, args.start, args.end, variables, frequency=frequency,
                         timezone=args.timezone, cache=not args.no_cache)
    write_table(frame, args.out, index=True)
    print(f"wrote {len(frame)} {frequency} rows ({', '.join(frame.columns)}) to {args.out}")
    return 0
