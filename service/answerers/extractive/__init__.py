"""The fallback answerer: a heuristic sentence picker with regex answer types."""
