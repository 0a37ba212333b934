"""A generative answerer over any OpenAI-compatible chat endpoint, every claim checked (issue 11)."""
