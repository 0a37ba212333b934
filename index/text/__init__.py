"""Text processing: formats, cleaning, sentences, stand-alone mentions, chunking, tokens, terms."""
