"""Vectorised homomorphic operations checked against numpy integer arithmetic on the plaintexts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.paillier import ops
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import insecure_test_keypair

PK, SK = insecure_test_keypair(512)
ENC = Encryptor(PK)
HALF = PK.n // 2
entry = st.integers(min_value=-(2**40), max_value=2**40)
wide = st.one_of(entry, st.sampled_from([HALF, -HALF, HALF - 1, 0, 1, -1]))


def enc(values):
    return ENC.encrypt_vector(values)


def dec(cts):
    return [SK.decrypt(int(c)) for c in cts]


def reference(values):
    """Exact reference: Python ints (numpy object arrays) reduced into (-N/2, N/2)."""
    return [PK.decode(int(v)) for v in values]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(wide, wide, entry), min_size=1, max_size=6))
def test_elementwise_ops(rows):
    a = [r[0] for r in rows]
    b = [r[1] for r in rows]
    k = [r[2] for r in rows]
    ca, cb = enc(a), enc(b)
    assert dec(ops.add_vec(PK, ca, cb)) == reference(x + y for x, y in zip(a, b, strict=True))
    assert dec(ops.sub_vec(PK, ca, cb)) == reference(x - y for x, y in zip(a, b, strict=True))
    assert dec(ops.add_plain_vec(PK, ca, b)) == reference(x + y for x, y in zip(a, b, strict=True))
    assert dec(ops.mul_plain_vec(PK, ca, k)) == reference(x * y for x, y in zip(a, k, strict=True))
    assert dec(ops.scale_vec(PK, ca, k[0])) == reference(x * k[0] for x in a)
    assert SK.decrypt(ops.sum_ct(PK, ca)) == reference([sum(a)])[0]
    assert (
        SK.decrypt(ops.dot_plain(PK, ca, k))
        == reference([sum(x * y for x, y in zip(a, k, strict=True))])[0]
    )


@settings(max_examples=10, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(1, 5),
    st.integers(1, 3),
    st.data(),
)
def test_matrix_products_match_numpy(rows, inner, cols, data):
    a = np.array(
        data.draw(
            st.lists(st.lists(entry, min_size=inner, max_size=inner), min_size=rows, max_size=rows)
        ),
        dtype=object,
    )
    x = np.array(
        data.draw(
            st.lists(st.lists(entry, min_size=cols, max_size=cols), min_size=inner, max_size=inner)
        ),
        dtype=object,
    )
    b = np.array(
        data.draw(
            st.lists(st.lists(entry, min_size=cols, max_size=cols), min_size=inner, max_size=inner)
        ),
        dtype=object,
    )
    vec = x[:, 0]
    cvec = enc(vec.tolist())
    assert dec(ops.matvec(PK, a, cvec)) == (a @ vec).tolist()
    cx = [enc(row.tolist()) for row in x]
    product = ops.matmul(PK, a, cx)
    assert [dec(r) for r in product] == (a @ x).tolist()
    ca = [enc(row.tolist()) for row in a]
    right = ops.matmul_right(PK, ca, b)
    assert [dec(r) for r in right] == (a @ b).tolist()


def test_numpy_in_numpy_out():
    a = np.array([[1, -2], [3, 4]], dtype=np.int64)
    cts = np.empty(2, dtype=object)
    cts[:] = enc([5, -6])
    out = ops.matvec(PK, a, cts)
    assert isinstance(out, np.ndarray) and out.dtype == object
    assert dec(out) == [17, -9]
    matrix = ops.matmul_right(PK, np.array([enc([1, 2])], dtype=object), a)
    assert isinstance(matrix, np.ndarray) and matrix.shape == (1, 2)
    assert dec(matrix[0]) == [7, 6]


def test_shape_errors():
    with pytest.raises(ValueError):
        ops.add_vec(PK, enc([1, 2]), enc([1]))
    with pytest.raises(ValueError):
        ops.matvec(PK, [[1, 2, 3]], enc([1, 2]))


def test_matrices_elementwise():
    x = np.array([[1, -2, 3], [4, 5, -6]], dtype=object)
    y = np.array([[7, 8, 9], [-1, 0, 2]], dtype=object)
    cx, cy = ENC.encrypt_array(x), ENC.encrypt_array(y)
    assert cx.shape == (2, 3)

    def d(a):
        return np.vectorize(lambda c: SK.decrypt(int(c)), otypes=[object])(a)

    assert (d(ops.add_vec(PK, cx, cy)) == x + y).all()
    assert (d(ops.sub_vec(PK, cx, cy)) == x - y).all()
    assert (d(ops.add_plain_vec(PK, cx, y)) == x + y).all()
    assert (d(ops.mul_plain_vec(PK, cx, y)) == x * y).all()
    assert (d(ops.scale_vec(PK, cx, -3)) == x * -3).all()
    with pytest.raises(ValueError):
        ops.add_vec(PK, cx, cy[:1])
