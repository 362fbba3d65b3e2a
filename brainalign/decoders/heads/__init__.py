"""Generative heads of the decoders: brain-decoded latents and embeddings → images, text.

The public names are re-exported lazily by :mod:`brainalign.decoders`.
"""
