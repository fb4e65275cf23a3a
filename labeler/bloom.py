"""A fixed-size Bloom filter over the 128-bit hex hashes the import already computes.

Why: dedup must ask "seen before?" for every imported prompt. Asking the database costs an index
probe per prompt; a Bloom filter answers "definitely not" from memory for nearly all of them, and
only its rare "maybe" answers are confirmed with the database. Its size is fixed (8 MiB by
default), so memory does not grow with the file.
"""

from __future__ import annotations

from collections.abc import Iterable


class BloomFilter:
    """Set-like membership for hex hash keys with no false negatives.

    Two probes into 2**27 bits (16 MiB): about 2 false positives in 10,000 at a million keys.
    Both positions are cut from the key itself, which is already a uniformly random hash.
    """

    def __init__(self, bits_log2: int = 27) -> None:
        self._mask = (1 << bits_log2) - 1
        self._bits = bytearray(1 << (bits_log2 - 3))

    def add(self, key: str) -> None:
        """Remember `key`."""
        value, mask, bits = int(key, 16), self._mask, self._bits
        a, b = value & mask, (value >> 64) & mask
        bits[a >> 3] |= 1 << (a & 7)
        bits[b >> 3] |= 1 << (b & 7)

    def update(self, keys: Iterable[str]) -> None:
        """Remember many keys."""
        for key in keys:
            self.add(key)

    def __contains__(self, key: str) -> bool:
        value, mask, bits = int(key, 16), self._mask, self._bits
        a, b = value & mask, (value >> 64) & mask
        return bool(bits[a >> 3] & (1 << (a & 7))) and bool(bits[b >> 3] & (1 << (b & 7)))
