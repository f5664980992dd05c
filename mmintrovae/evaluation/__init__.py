"""Evaluation: metrics that run without network access."""
from .metrics import OfflineFrechetInceptionDistance

__all__ = ['OfflineFrechetInceptionDistance']
