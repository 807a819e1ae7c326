"""Adapters from deep-learning frameworks to :func:`gradcheck.check` (imported lazily)."""
