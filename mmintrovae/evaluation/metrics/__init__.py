"""Metrics of mmintrovae."""
from .offline_fid import OfflineFrechetInceptionDistance

__all__ = ['OfflineFrechetInceptionDistance']
