"""The embedding model and its ONNX Runtime copy."""
