import numpy as np
import pytest

from gradcheck import Layout


def test_names_follow_the_unrolling_order():
    c = Layout({"A": (2, 3), "b": (2,)}, order="C")
    f = Layout({"A": (2, 3), "b": (2,)}, order="F")
    assert [c.name(i) for i in range(3)] == ["A[0, 0]", "A[0, 1]", "A[0, 2]"]
    assert [f.name(i) for i in range(3)] == ["A[0, 0]", "A[1, 0]", "A[0, 1]"]
    assert c.name(6) == "b[0]"
    assert f.name(7) == "b[1]"


@pytest.mark.parametrize("order", ["C", "F"])
def test_pack_inverts_unpack_and_matches_numpy_ravel(order, rng):
    layout = Layout({"W1": (3, 4), "b1": (3,), "W2": (2, 3)}, order=order)
    flat = rng.standard_normal(layout.size)
    parts = layout.unpack(flat)
    assert parts["W1"].shape == (3, 4)
    np.testing.assert_array_equal(parts["W1"].ravel(order=order), flat[:12])
    np.testing.assert_array_equal(layout.pack(parts), flat)
    for i in range(layout.size):
        block, idx = layout.locate(i)
        assert parts[block][idx] == flat[i]
        assert layout.flat_index(block, idx) == i


def test_block_of_and_slices():
    layout = Layout({"A": (2, 2), "B": (3,)})
    assert layout.slice("B") == slice(4, 7)
    assert layout.block_of(np.array([4, 6])) == "B"
    assert layout.block_of(np.array([3, 4])) is None
    np.testing.assert_array_equal(layout.indices("A"), [0, 1, 2, 3])


def test_bad_blocks_are_rejected_with_the_argument_named():
    with pytest.raises(ValueError, match="order must be one of"):
        Layout({"A": (2,)}, order="K")
    with pytest.raises(TypeError, match="blocks must be a mapping"):
        Layout([("A", (2,))])
    with pytest.raises(TypeError, match=r"blocks\['A'\] must be a shape"):
        Layout({"A": "big"})
    with pytest.raises(ValueError, match="empty"):
        Layout({})
    layout = Layout({"A": (2,)})
    with pytest.raises(ValueError, match=r"length 2 .* got shape \(3,\)"):
        layout.unpack(np.zeros(3))
    with pytest.raises(ValueError, match=r"missing \['A'\]"):
        layout.pack({"B": np.zeros(2)})
    with pytest.raises(KeyError, match="no block named 'Z'"):
        layout.slice("Z")
    with pytest.raises(IndexError):
        layout.locate(2)


@pytest.mark.parametrize("order", ["C", "F"])
def test_column_gives_the_flat_indices_of_a_column(order):
    layout = Layout({"v": (2,), "A": (3, 4)}, order=order)
    col = layout.column("A", 1)
    assert [layout.name(i) for i in col] == ["A[0, 1]", "A[1, 1]", "A[2, 1]"]


def test_matrices_and_the_other_order():
    layout = Layout({"W": (2, 3), "row": (1, 4), "b": (3,)}, order="C")
    assert [layout.is_matrix(name) for name in layout.names] == [True, False, False]
    flipped = layout.flipped()
    assert (flipped.order, flipped.blocks) == ("F", layout.blocks)
    # W[0, 1] is flat index 1 in C order and flat index 2 in F order
    assert (layout.name(1), flipped.name(2)) == ("W[0, 1]", "W[0, 1]")
