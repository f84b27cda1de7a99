"""Benchmarks (``nsed bench SUITE``): each runs against a private stack it starts itself and
prints its measurements as JSON. Ratios are taken side by side in one run."""
