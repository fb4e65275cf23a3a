"""labeler: a studio for human-feedback training data (demonstrations, rankings, exports)."""

__version__ = "0.1.0"
