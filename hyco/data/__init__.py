"""Data: observation operators, the versioned on-disk cache, generation and the lazy dataset.

``generate_dataset`` lives in :mod:`hyco.data.generate` (it imports PhiFlow); import it from there.
"""

from hyco.data.cache import CacheReader, cache_key
from hyco.data.observation import ObservationOperator
from hyco.errors import CacheError

__all__ = ["CacheError", "CacheReader", "ObservationOperator", "cache_key"]
