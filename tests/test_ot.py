"""Oblivious transfer: base OT, bit-matrix transpose, the KOS check hash and KOS extension.

References are independent: numpy's unpackbits for the transpose, a textbook shift-and-add
carry-less product for GF(2^128), and the OT relations themselves (the receiver's output is
the sender's output for its choice bit and differs from the other one).
"""

from __future__ import annotations

import secrets

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.protocols.ot import aes, checkhash, gf128
from coopetition.protocols.ot.baseot import BaseOtReceiver, BaseOtSender
from coopetition.protocols.ot.bitmatrix import transpose
from coopetition.protocols.ot.errors import CorrelationCheckFailed, MalformedOtMessage
from coopetition.protocols.ot.kos import KosReceiver, KosSender


def _clmul_reduce(a: int, b: int) -> int:
    """Textbook: multiply polynomials bit by bit, reduce by X^128 = X^7 + X^2 + X + 1."""
    prod = 0
    for i in range(128):
        if (b >> i) & 1:
            prod ^= a << i
    for d in range(254, 127, -1):
        if (prod >> d) & 1:
            prod ^= (1 << d) | (0b10000111 << (d - 128))
    return prod


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**32))
def test_transpose_matches_unpackbits(rblocks, cbytes, seed):
    rng = np.random.default_rng(seed)
    m = rng.integers(0, 256, (8 * rblocks, cbytes), dtype=np.uint8)
    bits = np.unpackbits(m, axis=1, bitorder="little")
    ref = np.packbits(bits.T, axis=1, bitorder="little")
    np.testing.assert_array_equal(transpose(m), ref)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**128 - 1), st.integers(0, 2**128 - 1))
def test_gf128_mul_matches_textbook(a, b):
    assert gf128.mul(a, b) == _clmul_reduce(a, b)


def _ghash_poly(block: bytes) -> int:
    """GHASH's bit order, spelled out: the most significant bit of byte 0 is X^0."""
    return sum(1 << i for i in range(128) if (block[i // 8] >> (7 - i % 8)) & 1)


@pytest.mark.parametrize("n", [8, 200, 2 * checkhash.BLOCK_ROWS + 200])
def test_row_hash_is_the_blockwise_polynomial_hash(n):
    """G(rows) = sum over blocks (cut from the end) of sum_i H_b^(a+2-i) row_i, H_b = E_Kb(0)."""
    rng = np.random.default_rng(n)
    rows = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    bits = rng.integers(0, 2, n).astype(np.uint8)
    seed = secrets.token_bytes(16)
    sizes = [n % checkhash.BLOCK_ROWS or checkhash.BLOCK_ROWS]
    sizes += [checkhash.BLOCK_ROWS] * ((n - sizes[0]) // checkhash.BLOCK_ROWS)
    keys = aes.Prg(seed).read(16 * len(sizes))
    ref, ref_bits, start = 0, 0, 0
    for b, a in enumerate(sizes):
        enc = Cipher(algorithms.AES(keys[16 * b : 16 * b + 16]), modes.ECB()).encryptor()
        h = _ghash_poly(enc.update(bytes(16)))
        power = 1
        for i in range(a, 0, -1):  # row i (1-based) gets H^(a + 2 - i)
            power = _clmul_reduce(power, h)
            if i == a:
                power = _clmul_reduce(power, h)
            ref ^= _clmul_reduce(power, _ghash_poly(rows[start + i - 1].tobytes()))
            if bits[start + i - 1]:
                ref_bits ^= power
        start += a
    g = checkhash.RowHash(seed, n)
    assert _ghash_poly(g(rows)) == ref
    assert _ghash_poly(g.of_bits(np.packbits(bits, bitorder="little"))) == ref_bits
    assert checkhash.to_poly(g(rows)) == ref


@settings(max_examples=20, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
def test_ghash_block_product_matches_textbook(a, b):
    got = checkhash.mul(a, b)
    assert _ghash_poly(got) == _clmul_reduce(_ghash_poly(a), _ghash_poly(b))


def _base(n=128, choices=None):
    """Party 1 is the sender, party 0 the receiver (``peer`` names the other side)."""
    choices = choices or [secrets.randbelow(2) for _ in range(n)]
    return BaseOtSender(b"t", n, peer=0), BaseOtReceiver(b"t", choices, peer=1), choices


def test_base_ot_delivers_the_chosen_key_only():
    s, r, choices = _base()
    keys = s.keys(r.reply(s.first()))
    got = r.keys()
    for (k0, k1), k, c in zip(keys, got, choices, strict=True):
        assert k == (k1 if c else k0) and k != (k0 if c else k1)


def test_base_ot_receiver_message_hides_nothing_obvious():
    # Both elements of every pair are valid, distinct group elements whatever the choice.
    s, r, _ = _base(n=16, choices=[0] * 8 + [1] * 8)
    msg = r.reply(s.first())
    assert all(len({p[0], p[1]}) == 2 for p in msg)


@pytest.mark.parametrize("where", ["A", "r0", "r1", "length"])
def test_wrong_base_ot_message_is_refused_and_names_the_sender(where):
    s, r, _ = _base(n=4)
    big_a = s.first()
    not_a_point = b"\xff" * 32  # not a canonical encoding of a subgroup element
    if where == "A":
        with pytest.raises(MalformedOtMessage) as exc:
            r.reply(not_a_point)
        assert exc.value.culprit == 1
        return
    msg = r.reply(big_a)
    if where == "length":
        msg = msg[:-1]
    else:
        msg[2][0 if where == "r0" else 1] = bytes(32)  # the identity's encoding: small order
    with pytest.raises(MalformedOtMessage) as exc:
        s.keys(msg)
    assert exc.value.culprit == 0


def _kos():
    """Party 0 is the KOS sender, party 1 the receiver."""
    s, r = KosSender(b"k", peer=1), KosReceiver(b"k", peer=0)
    r.setup_finish(s.setup_reply(r.setup_first()))
    s.setup_finish()
    return s, r


@pytest.mark.parametrize("n", [8, 1000])
def test_kos_random_ots_are_correct(n):
    s, r = _kos()
    for _ in range(2):  # a second extend keeps using fresh tweaks and PRG output
        x = np.frombuffer(secrets.token_bytes(n), dtype=np.uint8) & 1
        seed = s.extend(n, r.extend(x))
        s.verify(r.check(seed))
        o0, o1 = s.outputs(2)
        got = r.outputs(2)
        chosen = np.where(x[:, None] == 1, o1, o0)
        other = np.where(x[:, None] == 1, o0, o1)
        np.testing.assert_array_equal(got, chosen)
        assert not (got == other).all(axis=1).any()


def test_kos_inconsistent_column_fails_the_check_and_names_the_receiver():
    s, r = _kos()
    n = 256
    x = np.frombuffer(secrets.token_bytes(n), dtype=np.uint8) & 1
    u = bytearray(r.extend(x))
    # The receiver uses a different choice bit for row 5 in columns 0..63 (a selective failure
    # attack on those bits of Delta). A column l only shows the error where Delta_l = 1, so
    # a single-column attack passes half the time by design; 64 columns pass with 2^-64.
    row_bytes = len(u) // 128
    for col in range(64):
        u[col * row_bytes + 0] ^= 1 << 5
    seed = s.extend(n, bytes(u))
    with pytest.raises(CorrelationCheckFailed) as exc:
        s.verify(r.check(seed))
    assert exc.value.culprit == 1
    with pytest.raises(RuntimeError):
        s.outputs(1)  # nothing is released after a failed check


def test_kos_refuses_malformed_extension_messages():
    s, _ = _kos()
    with pytest.raises(MalformedOtMessage) as exc:
        s.extend(64, b"short")
    assert exc.value.culprit == 1
