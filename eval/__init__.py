"""Evaluation of citeqa: the question set, metrics, the harness (`citeqa eval`) and its report."""
