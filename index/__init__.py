"""citeqa ingestion: cleaning, sentence splitting, chunking, embedding, index build and storage."""
