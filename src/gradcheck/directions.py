"""Random directions over x, drawn again from a seed whenever needed (never stored).

``v_i = ±u_i·max(1, |x_i|)`` with a random sign and ``u_i`` uniform in [0.5, 1.5) (on a grid of
2^14 values: 15 random bits per entry, four entries to a 64-bit word of PCG64). A direction is a
seed, and the values on any range of its entries are drawn again when needed (``PCG64.advance``
skips to the range), so that the memory of a check stays a few vectors whatever n. A direction
is drawn 65,536 entries at a time. Pure: no evaluation of f, no state but the seed (see
:mod:`gradcheck.directional` for how directions are used, and why three are enough).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

Positions = slice | np.ndarray  # positions along a root's order


DRAWN = 1 << 16  # entries drawn at a time: their work stays in cache (timings: RESULTS.md)
UNIT = 2.0**-14  # u = |K|·UNIT for the drawn integers K


@dataclass(frozen=True)
class Root:
    """A random direction over an ordered scope: its entries (``order``, flat indices or a
    slice of them) and the seed its values are drawn from."""

    order: slice | np.ndarray
    size: int
    seed: int
    holes: np.ndarray | None = None  # sorted positions where the direction is 0 (left out)

    def flat(self, positions: Positions) -> slice | np.ndarray:
        """Flat indices of ``positions``."""
        if isinstance(self.order, slice):
            start = self.order.start or 0
            if isinstance(positions, slice):
                return slice(start + (positions.start or 0), start + positions.stop)
            return positions + start
        return self.order[positions]

    def values(
        self,
        x: np.ndarray,
        positions: Positions,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """``±u·max(1, |x|)`` at ``positions``, the same every time they are drawn (into
        ``out`` when given: no new memory for a direction of n entries)."""
        size = size_of(positions)
        v = np.empty(size) if out is None else out[:size]
        if isinstance(positions, slice):
            for at, part in self.drawn(x, positions):
                v[at : at + part.size] = part
            return v
        lo, hi = int(positions.min()), int(positions.max()) + 1
        v[:] = self.values(x, slice(lo, hi))[positions - lo]
        return v

    def drawn(
        self,
        x: np.ndarray,
        positions: slice,
        step: float = 1.0,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """``step·v`` on a range of positions, ``DRAWN`` entries at a time: (offset in the
        range, values), the values in memory reused from one part to the next. The scale
        ``max(1, |x|)`` is computed on each part as it is drawn: reading it from a vector kept
        for the purpose was slower than computing it again from x, which is read anyway."""
        start, size = positions.start or 0, size_of(positions)
        flat = self.flat(positions)
        part_size = min(DRAWN, size)
        work, mag, ones = np.empty(part_size), np.empty(part_size), np.ones(part_size)
        holes = self.holes if self.holes is not None and self.holes.size else None
        for at, k in signed(self.seed, start, size):
            part = work[: k.size]
            np.multiply(k, step * UNIT, out=part)
            idx = (
                slice(flat.start + at, flat.start + at + k.size)
                if isinstance(flat, slice)
                else flat[at : at + k.size]
            )
            m = np.abs(x[idx], out=mag[: k.size])
            np.maximum(m, ones[: k.size], out=m)  # 3× faster than against the scalar 1.0
            part *= m
            if holes is not None:
                lo, hi = np.searchsorted(holes, [start + at, start + at + k.size])
                part[holes[lo:hi] - start - at] = 0.0
            yield at, part


def signed(seed: int, start: int, size: int) -> Iterator[tuple[int, np.ndarray]]:
    """The integers ``K = ±(8192 + r)`` of a direction at positions ``start … start + size``,
    ``DRAWN`` at a time (offset, K): r has 14 random bits and the sign is random, so that
    ``u = |K|·2^-14`` is uniform on [0.5, 1.5) at a resolution of 2^-14. Four positions share
    one 64-bit word of PCG64, which skips to any position (``advance``); the words are read
    little-endian, the same on any machine."""
    bits = np.random.PCG64(seed)
    at = start - start % 4
    bits.advance(at // 4)
    end = start + size
    sign = np.empty(DRAWN, np.int16)
    while at < end:
        stop = min(end, at + DRAWN)
        words = bits.random_raw(-(-(stop - at) // 4))
        k = words.astype("<u8", copy=False).view("<i2")[max(start, at) - at : stop - at]
        s = sign[: k.size]
        np.right_shift(k, 15, out=s)  # 0 or −1
        k &= 0x3FFF
        k += 8192
        k ^= s  # with the next line: −K where the sign is −1 (two's complement)
        k -= s
        yield max(start, at) - start, k
        at += DRAWN


def size_of(positions: Positions) -> int:
    if isinstance(positions, slice):
        return positions.stop - (positions.start or 0)
    return int(positions.size)
