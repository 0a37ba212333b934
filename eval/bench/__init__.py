"""The benchmarks and the generators of their test data."""
