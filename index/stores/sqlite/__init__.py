"""The embedded store: SQLite (documents, chunks, sentences, FTS5) with a FAISS cache."""
