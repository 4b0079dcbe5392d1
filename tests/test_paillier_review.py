"""Regression tests for the reviewed Paillier defects (issue 5).

Each test reproduces one reviewer finding: non-unit ciphertexts with negative scalars (GMP
abort), unchecked plaintext range and type, randomness reused after fork or pickling, and
ragged matrices. Expected values come from the textbook decryption formula or numpy, not from
the library under test.
"""

import os
import pickle
import subprocess
import sys

import gmpy2
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from coopetition.protocols.paillier import ops, serialize
from coopetition.protocols.paillier.encryptor import Encryptor, RandomnessPool, djn_generator
from coopetition.protocols.paillier.keys import (
    InvalidCiphertext,
    check_modulus_bits,
    insecure_test_keypair,
)

PK, SK = insecure_test_keypair(512)
HALF = PK.n // 2
NON_UNIT = SK.p  # shares a factor with N: not a ciphertext


def textbook_decrypt(c: int) -> int:
    n, n2 = PK.n, PK.n_square
    lam = (SK.p - 1) * (SK.q - 1) // int(gmpy2.gcd(SK.p - 1, SK.q - 1))
    mu = pow((pow(n + 1, lam, n2) - 1) // n, -1, n)
    m = (pow(c, lam, n2) - 1) // n * mu % n
    return m - n if m > n // 2 else m


# -- 1. non-unit ciphertexts with negative scalars ------------------------------------------

C5 = PK.encrypt(5)

NEGATIVE_EXPONENT_OPS = {
    "mul_plain": lambda bad: ops.mul_plain(PK, bad, -3),
    "mul_plain_vec": lambda bad: ops.mul_plain_vec(PK, [C5, bad], [-3, -4]),
    "mul_plain_vec_numpy": lambda bad: ops.mul_plain_vec(
        PK, np.array([[C5, bad]], dtype=object), np.array([[-3, -4]], dtype=object)
    ),
    "scale_vec": lambda bad: ops.scale_vec(PK, [C5, bad], -3),
    "dot_plain": lambda bad: ops.dot_plain(PK, [C5, bad], [2, -1]),
    "matvec": lambda bad: ops.matvec(PK, [[-1, 2]], [C5, bad]),
    "matmul": lambda bad: ops.matmul(PK, [[-1, 2]], [[C5], [bad]]),
    "matmul_right": lambda bad: ops.matmul_right(PK, [[C5, bad]], [[-1], [2]]),
    "sub": lambda bad: ops.sub(PK, C5, bad),
    "sub_vec": lambda bad: ops.sub_vec(PK, [C5, C5], [C5, bad]),
    "neg": lambda bad: ops.neg(PK, bad),
}


@pytest.mark.parametrize("name", sorted(NEGATIVE_EXPONENT_OPS))
@pytest.mark.parametrize("bad", [NON_UNIT, 0, PK.n_square, -1])
def test_non_unit_ciphertext_raises_invalid_ciphertext(name, bad):
    with pytest.raises(InvalidCiphertext):
        NEGATIVE_EXPONENT_OPS[name](bad)


def test_vector_error_names_the_bad_index():
    with pytest.raises(InvalidCiphertext, match=r"\[1\]"):
        ops.mul_plain_vec(PK, [C5, NON_UNIT, C5], [-3, -4, -5])


def test_process_survives_negative_scalar_on_non_unit():
    # Before the fix GMP aborted the interpreter (SIGABRT, exit 134); run it in a child so that
    # a regression fails this test instead of killing the test run.
    code = (
        "from coopetition.protocols.paillier.keys import PublicKey, InvalidCiphertext\n"
        "from coopetition.protocols.paillier import ops\n"
        f"pk = PublicKey({PK.n})\n"
        "for f in (lambda: ops.mul_plain_vec(pk, [{p}, {p}], [-3, -4]),\n"
        "          lambda: ops.scale_vec(pk, [{p}, {p}], -3),\n"
        "          lambda: ops.matvec(pk, [[-1, 2]], [{p}, {p}])):\n"
        "    try:\n"
        "        f()\n"
        "    except InvalidCiphertext:\n"
        "        print('refused')\n"
    ).replace("{p}", str(NON_UNIT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-500:]
    assert out.stdout.split() == ["refused"] * 3


def test_negative_scalars_still_correct_on_valid_ciphertexts():
    cs = [PK.encrypt(5), PK.encrypt(-2)]
    assert [textbook_decrypt(c) for c in ops.mul_plain_vec(PK, cs, [-7, 3])] == [-35, -6]
    assert [textbook_decrypt(c) for c in ops.scale_vec(PK, cs, -7)] == [-35, 14]
    assert textbook_decrypt(ops.sub(PK, cs[0], cs[1])) == 7


def test_check_ciphertext_accepts_integer_types_alike():
    for c in (C5, gmpy2.mpz(C5), np.int64(7)):
        assert PK.check_ciphertext(c) == int(c)
        assert PK.check_ciphertexts([c]) == [int(c)]
    for bad in (True, 1.0, "5", None):
        with pytest.raises(InvalidCiphertext):
            PK.check_ciphertext(bad)


# -- 2. plaintext range and type ------------------------------------------------------------


@pytest.mark.parametrize("m", [HALF + 1, -HALF - 1, PK.n + 5, -PK.n, 2 * PK.n])
def test_signed_api_refuses_out_of_range(m):
    with pytest.raises(ValueError, match="out of range"):
        PK.encode(m)
    with pytest.raises(ValueError, match="out of range"):
        PK.encrypt(m)
    with pytest.raises(ValueError, match="out of range"):
        Encryptor(PK).encrypt(m)
    with pytest.raises(ValueError, match="out of range"):
        Encryptor(PK).encrypt_vector([1, m])
    with pytest.raises(ValueError, match="out of range"):
        ops.add_plain(PK, C5, m)


@pytest.mark.parametrize("m", [2.9, 2.0, "5", True, False, None, gmpy2.mpfr(2.5), b"5"])
def test_signed_api_refuses_non_integers(m):
    with pytest.raises(TypeError):
        PK.encode(m)
    with pytest.raises(TypeError):
        PK.encrypt(m)
    with pytest.raises(TypeError):
        Encryptor(PK).encrypt(m)
    with pytest.raises(TypeError):
        Encryptor(PK).encrypt_with_randomness(m)
    with pytest.raises(TypeError):
        ops.add_plain(PK, C5, m)
    with pytest.raises(TypeError):
        ops.mul_plain(PK, C5, m)
    with pytest.raises(TypeError):
        ops.scale_vec(PK, [C5], m)
    with pytest.raises(TypeError):
        PK.raw_encrypt(m, 3)


def test_decode_refuses_strings():
    with pytest.raises(TypeError):
        PK.decode("7")


@pytest.mark.parametrize("m", [np.int64(-12), np.int32(7), gmpy2.mpz(-99), 10**30])
def test_integer_types_are_accepted(m):
    assert textbook_decrypt(PK.encrypt(m)) == int(m)
    assert textbook_decrypt(Encryptor(PK).encrypt(m)) == int(m)
    assert textbook_decrypt(ops.add_plain(PK, C5, m)) == 5 + int(m)
    assert textbook_decrypt(ops.mul_plain(PK, C5, m)) == PK.decode(5 * int(m))


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=-2 * PK.n, max_value=2 * PK.n))
@example(HALF + 1)
@example(-HALF - 1)
@example(HALF)
@example(-HALF)
def test_encrypt_accepts_exactly_the_signed_range(m):
    if -HALF <= m <= HALF:
        assert textbook_decrypt(PK.encrypt(m)) == m
    else:
        with pytest.raises(ValueError):
            PK.encrypt(m)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=-2 * PK.n, max_value=2 * PK.n))
@example(PK.n)
@example(-HALF - 1)
@example(PK.n - 1)
@example(-HALF)
def test_raw_encrypt_takes_residues_and_signed_values(m):
    r = PK.random_unit()
    if -HALF <= m < PK.n:
        expected = pow(PK.n + 1, m % PK.n, PK.n_square) * pow(r, PK.n, PK.n_square) % PK.n_square
        assert PK.raw_encrypt(m, r) == expected
    else:
        with pytest.raises(ValueError):
            PK.raw_encrypt(m, r)


# -- 3. randomness pool after fork and pickling ---------------------------------------------


def test_pool_refuses_pickling():
    pool = RandomnessPool(PK)
    pool.fill(2, processes=1)
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(pool)
    assert len(pool) == 2  # the original is untouched


def test_pool_is_emptied_in_a_forked_child():
    pool = RandomnessPool(PK)
    pool.fill(3, processes=1)
    enc = Encryptor(PK, pool=pool)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report what it sees, then leave without running pytest's teardown
        try:
            os.close(read)
            report = f"{len(pool)} {pool.take() is None} {enc.encrypt(0)}"
            os.write(write, report.encode())
        finally:
            os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 1 << 16):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    size, empty, child_ct = b"".join(chunks).decode().split()
    assert (size, empty) == ("0", "True")
    assert len(pool) == 3  # the parent keeps its values
    parent_ct = enc.encrypt(0)
    # With shared randomness the two encryptions of 0 would be equal.
    assert int(child_ct) != parent_ct
    assert textbook_decrypt(int(child_ct)) == 0


# -- 5. matrix shapes -----------------------------------------------------------------------

A = [[1, -2, 3], [4, 5, -6]]
X = [[7, 8], [9, -10], [11, 12]]
EX = [[PK.encrypt(v) for v in row] for row in X]
EA = [[PK.encrypt(v) for v in row] for row in A]


def test_matmul_and_matmul_right_match_numpy():
    expected = (np.array(A) @ np.array(X)).tolist()
    assert [[textbook_decrypt(c) for c in row] for row in ops.matmul(PK, A, EX)] == expected
    assert [[textbook_decrypt(c) for c in row] for row in ops.matmul_right(PK, EA, X)] == expected


@pytest.mark.parametrize(
    "call",
    [
        lambda: ops.matmul_right(PK, EA, [[7, 8], [9], [11, 12]]),
        lambda: ops.matmul_right(PK, EA, [[7], [9, 1], [11, 12]]),
        lambda: ops.matmul_right(PK, EA, [[7, 8], [9, 1]]),
        lambda: ops.matmul_right(PK, EA, []),
        lambda: ops.matmul_right(PK, [EA[0], EA[1][:2]], X),
        lambda: ops.matmul(PK, A, [EX[0], EX[1][:1], EX[2]]),
        lambda: ops.matmul(PK, A, [[], [], []]),
        lambda: ops.matmul(PK, A, EX[:2]),
        lambda: ops.matmul(PK, [[1, 2, 3], [4, 5]], EX),
        lambda: ops.matvec(PK, [[1, 2], [3]], [C5, C5]),
        lambda: ops.matvec(PK, [[], []], []),
        lambda: ops.matvec(PK, np.zeros((2, 2, 2), dtype=object), [C5, C5]),
    ],
)
def test_bad_shapes_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


# -- lesser findings ------------------------------------------------------------------------


def test_generator_is_minus_a_square():
    h = djn_generator(PK)
    # -h is a square modulo p and modulo q (hence modulo N), and h itself has Jacobi symbol 1
    assert gmpy2.legendre(-h % SK.p, SK.p) == 1
    assert gmpy2.legendre(-h % SK.q, SK.q) == 1
    assert gmpy2.jacobi(h, PK.n) == 1


@pytest.mark.parametrize("bits", [2050, 2560, 4098, 8192])
def test_only_the_listed_secure_lengths_are_accepted(bits):
    with pytest.raises(ValueError):
        check_modulus_bits(bits)


def test_decoders_raise_their_documented_errors_on_wrong_types():
    with pytest.raises(serialize.MalformedEncoding):
        serialize.decode_public_key("PPK1")
    with pytest.raises(InvalidCiphertext):
        serialize.decode_ciphertexts(PK, None)
    with pytest.raises(InvalidCiphertext):
        serialize.encode_ciphertexts(PK, [1.5])
