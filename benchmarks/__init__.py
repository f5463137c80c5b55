"""Benchmarks and the evaluation suite: they measure the product from outside and are not part of it."""
