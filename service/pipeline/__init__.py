"""The ask pipeline's stages: follow-up resolution, retrieval and fusion, reranking."""
