"""Named blocks of a flat parameter vector: flat index ↔ (block, multi-index), pack and unpack."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

_ORDERS = ("C", "F")
Order = Literal["C", "F"]  # how a block is unrolled: row-major (NumPy) or column-major (MATLAB)


def other_order(order: Order) -> Order:
    """'F' for 'C' and 'C' for 'F'."""
    return "F" if order == "C" else "C"


def _normalise_shape(name: str, shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        if isinstance(shape, (str, bytes)):
            raise TypeError
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(
            f"blocks[{name!r}] must be a shape (an int or a tuple of ints), "
            f"got {type(shape).__name__} {shape!r}."
        ) from None
    if any(d < 0 for d in dims) or any(d != s for d, s in zip(dims, shape, strict=True)):
        raise ValueError(f"blocks[{name!r}] must have non-negative integer sizes, got {shape!r}.")
    return dims


@dataclass(frozen=True)
class Layout:
    """How a flat parameter vector is cut into named, shaped blocks.

    Parameters
    ----------
    blocks : mapping of str to tuple of int
        Ordered mapping name → shape. The blocks follow each other in the flat vector in the
        mapping's order.
    order : {'C', 'F'}, default 'C'
        How each block is unrolled: 'C' (row-major, NumPy's ``ravel()``) or 'F' (column-major,
        MATLAB's ``Theta(:)``).

    Examples
    --------
    >>> layout = Layout({"Theta1": (2, 3), "Theta2": (1, 3)}, order="F")
    >>> layout.size
    9
    >>> layout.name(2)
    'Theta1[0, 1]'
    >>> layout.unpack(np.arange(9.0))["Theta1"]
    array([[0., 2., 4.],
           [1., 3., 5.]])
    >>> layout.pack(layout.unpack(np.arange(9.0)))
    array([0., 1., 2., 3., 4., 5., 6., 7., 8.])
    """

    blocks: Mapping[str, tuple[int, ...]]
    order: Order = "C"
    _offsets: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.blocks, Mapping):
            raise TypeError(
                "blocks must be a mapping name → shape, e.g. {'Theta1': (25, 401)}, "
                f"got {type(self.blocks).__name__}."
            )
        if self.order not in _ORDERS:
            raise ValueError(f"order must be one of {_ORDERS}, got {self.order!r}.")
        shapes = {}
        for name, shape in self.blocks.items():
            if not isinstance(name, str):
                raise TypeError(f"block names must be str, got {type(name).__name__} {name!r}.")
            shapes[name] = _normalise_shape(name, shape)
        if not shapes:
            raise ValueError("blocks must name at least one block, got an empty mapping.")
        object.__setattr__(self, "blocks", shapes)
        offsets = np.cumsum([0] + [math.prod(s) for s in shapes.values()])
        object.__setattr__(self, "_offsets", tuple(int(o) for o in offsets))

    @property
    def size(self) -> int:
        """Total number of entries."""
        return self._offsets[-1]

    @property
    def names(self) -> tuple[str, ...]:
        """Block names, in order."""
        return tuple(self.blocks)

    def slice(self, name: str) -> slice:
        """The flat slice that block ``name`` occupies."""
        k = self._index(name)
        return slice(self._offsets[k], self._offsets[k + 1])

    def indices(self, name: str) -> np.ndarray:
        """Flat indices of block ``name``."""
        s = self.slice(name)
        return np.arange(s.start, s.stop)

    def _index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no block named {name!r}; the blocks are {list(self.names)}.") from None

    def locate(self, i: int) -> tuple[str, tuple[int, ...]]:
        """Block name and multi-index of flat index ``i``."""
        i = int(i)
        if not 0 <= i < self.size:
            raise IndexError(f"flat index {i} is outside 0..{self.size - 1}.")
        k = int(np.searchsorted(self._offsets, i, side="right")) - 1
        name = self.names[k]
        local = i - self._offsets[k]
        idx = np.unravel_index(local, self.blocks[name], order=self.order)
        return name, tuple(int(j) for j in idx)

    def block_of(self, indices: np.ndarray) -> str | None:
        """The block holding all of ``indices``, or None when they span several."""
        indices = np.asarray(indices)
        if indices.size == 0:
            return None
        k = np.searchsorted(self._offsets, indices, side="right") - 1
        return self.names[int(k[0])] if np.all(k == k[0]) else None

    def name(self, i: int) -> str:
        """Readable name of flat index ``i``, e.g. ``'Theta2[0, 0]'``."""
        block, idx = self.locate(i)
        return f"{block}[{', '.join(str(j) for j in idx)}]"

    def unpack(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Split a flat vector into arrays of the blocks' shapes (views where possible)."""
        flat = np.asarray(flat)
        if flat.ndim != 1 or flat.size != self.size:
            raise ValueError(
                f"expected a flat vector of length {self.size} for blocks "
                f"{dict(self.blocks)}, got shape {flat.shape}."
            )
        return {
            name: flat[self.slice(name)].reshape(shape, order=self.order)
            for name, shape in self.blocks.items()
        }

    def pack(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """Concatenate named arrays into one flat vector in this layout's order."""
        missing = [n for n in self.names if n not in arrays]
        extra = [n for n in arrays if n not in self.blocks]
        if missing or extra:
            raise ValueError(
                f"pack expected blocks {list(self.names)}; missing {missing}, unexpected {extra}."
            )
        parts = []
        for name, shape in self.blocks.items():
            a = np.asarray(arrays[name])
            if a.shape != shape:
                raise ValueError(f"block {name!r} must have shape {shape}, got {a.shape}.")
            parts.append(a.ravel(order=self.order))
        return np.concatenate(parts)

    def is_matrix(self, name: str) -> bool:
        """Whether block ``name`` is 2-D with at least two rows and two columns (so that
        reading it in the other order changes it)."""
        shape = self.blocks[name]
        return len(shape) == 2 and min(shape) >= 2

    def flipped(self) -> Layout:
        """The same blocks unrolled in the other order."""
        return Layout(self.blocks, order=other_order(self.order))

    def column(self, name: str, j: int) -> np.ndarray:
        """Flat indices of column ``j`` of the 2-D block ``name``, row by row."""
        return self.indices(name).reshape(self.blocks[name], order=self.order)[:, j]

    def flat_index(self, name: str, index: tuple[int, ...]) -> int:
        """Flat index of entry ``index`` of block ``name``."""
        local = np.ravel_multi_index(index, self.blocks[name], order=self.order)
        return self.slice(name).start + int(local)


def entry_name(layout: Layout | None, i: int) -> str:
    """``Theta2[0, 0]`` with a layout, ``x[17]`` without."""
    return layout.name(i) if layout is not None else f"x[{int(i)}]"


SHOWN = 4  # entries named in a message before "and N more"


def entry_names(layout: Layout | None, idx: np.ndarray, shown: int = SHOWN) -> str:
    """``x[1], x[4] and 7 more``: the first few entries of ``idx`` by name."""
    idx = np.asarray(idx)
    text = ", ".join(entry_name(layout, i) for i in idx[:shown])
    return text + (f" and {idx.size - shown} more" if idx.size > shown else "")


def entries(count: int) -> str:
    """``1 entry``, ``3 entries``."""
    return f"{count} entr{'y' if count == 1 else 'ies'}"


def shape_text(shape: tuple[int, ...]) -> str:
    """``25×401``."""
    return "×".join(str(d) for d in shape)


def scope_name(layout: Layout | None, block: str | None) -> str:
    """``Theta2 (10×26)`` for a block; ``every block`` or ``all entries`` for the whole vector."""
    if block is None or layout is None:
        return "every block" if layout is not None and len(layout.names) > 1 else "all entries"
    return f"{block} ({shape_text(layout.blocks[block])})"


def set_name(layout: Layout | None, idx: np.ndarray) -> str:
    """``Theta2[:, 0] (bias column, 3 entries)``, ``Theta1[2, :] (row, …)``, ``all of W1`` or a list."""
    if layout is None:
        return entry_names(None, idx)
    parts = _block_patterns(layout, idx)
    return "; ".join(found or entry_names(layout, mine) for mine, found in parts)


def pattern(layout: Layout, idx: np.ndarray) -> str | None:
    """The set's name when, in every block it touches, it is a whole pattern (the block, a
    row, a column, all but the bias column); None when it is scattered."""
    parts = _block_patterns(layout, idx)
    if not parts or any(found is None or mine.size < 2 for mine, found in parts):
        return None
    return "; ".join(found for _, found in parts if found is not None)


def _block_patterns(layout: Layout, idx: np.ndarray) -> list[tuple[np.ndarray, str | None]]:
    """Per block that ``idx`` touches: its entries there, and their pattern's name (or None)."""
    parts = []
    for name, shape in layout.blocks.items():
        mine = np.sort(idx[np.isin(idx, layout.indices(name))])
        if mine.size:
            parts.append((mine, _block_pattern(layout, name, shape, mine)))
    return parts


def _block_pattern(
    layout: Layout, name: str, shape: tuple[int, ...], idx: np.ndarray
) -> str | None:
    size = math.prod(shape)
    count = entries(idx.size)
    if idx.size == size and size > 1:
        return f"all of {name} ({count})"
    if len(shape) == 2:
        offset = idx - layout.slice(name).start
        rows, cols = np.unravel_index(offset, shape, order=layout.order)
        if np.unique(cols).size == 1 and idx.size == shape[0] and shape[0] > 1:
            j = int(cols[0])
            return f"{name}[:, {j}] ({'bias column, ' if j == 0 else 'column, '}{count})"
        if np.unique(rows).size == 1 and idx.size == shape[1] and shape[1] > 1:
            return f"{name}[{int(rows[0])}, :] (row, {count})"
        if np.all(cols > 0) and idx.size == shape[0] * (shape[1] - 1) and shape[1] > 1:
            return f"{name}[:, 1:] (all but the bias column, {count})"
    return None
