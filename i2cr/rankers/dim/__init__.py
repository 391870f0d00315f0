"""DIM (Song et al., 2024): a trained fusion ranker that re-orders candidates before TES.

Mention text, the image-to-text cue (the carried caption) and, when an image encoder is
configured, CLIP image features attend to each other with multi-head attention; the fused
mention is scored against each candidate's text features. Trained with an N-pair loss over
each sample's candidate set. See `i2cr.rankers.dim.model` for where this differs from the paper.
"""
