"""Model loading: selector chat models, text embedder, image-text scorer."""
