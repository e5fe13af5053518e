"""Reproductions of published benchmarks under their exact protocols (ETTh1 so far)."""
