"""`python -m forecast` runs the command line."""

from forecast.cli import run

if __name__ == "__main__":  # not when a worker process (Dask's, multiprocessing's spawn) imports it
    run()
