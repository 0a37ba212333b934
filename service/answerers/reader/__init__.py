"""The learned extractive reader (a MiniLM fine-tuned on SQuAD by `citeqa train-reader`)."""
