"""Adversarial review: an OLE reply's randomness must not tell its receiver the reply's mask.

``additive._answer`` made the reply Enc_i(s; r') with the mask s and the randomness r' both drawn
from the responder's seed under the SAME label, and ``candidate.draw`` reads SHAKE-256 output of
a length set by the bound: the mask's bytes were a prefix of r''s bytes. A holder that knows its
own request's randomness (here 1, i.e. C = 1 + u N_i, a valid ciphertext of an in-range u that
the key stage's range proofs accept with witness r = 1) extracts r' from the reply with its
private key, and a five-dimensional lattice (r' fixes s up to a ~270-bit ambiguity) turns
w = L + s into the responder's input. Key stage, holder 0 (phi_0 ~ N): one reply from party j
gives phi_j = -(x_j + y_j); with every j that is phi(N), so ONE malicious party factors N,
in the key stage that is never audited. docs/crypto.md claims the holder sees "a m + s mod N_i
and nothing else" (r' uniform); the fix draws r' under its own label.

1024-bit N, INSECURE (``insecure_allow_small``): at 512 bits phi_0 is too short for the lattice.
"""

from __future__ import annotations

import secrets

import flint
import gmpy2
import pytest

from coopetition.protocols.paillier.dkg.additive import AdditiveCandidate, OleKeys
from coopetition.protocols.paillier.dkg.params import DkgParams


def _draw_size(bound: int) -> int:
    return (bound.bit_length() + 128 + 7) // 8  # candidate.draw's digest length


def _phi_from_reply(params: DkgParams, key, phi0: int, beta0: int, reply: int) -> int | None:
    """Holder 0's attack: from one key-stage reply (to requests with randomness 1) and its own
    key, the responder's phi_j, or None when the lattice does not give it."""
    n = key.public.n
    w = key.decrypt(reply)  # phi_0 beta_j + beta_0 phi_j + s
    rho = int(gmpy2.powmod(reply % n, gmpy2.invert(n, (key.p - 1) * (key.q - 1)), n))
    mask_bits = 2 * params.bits + 2 * params.kappa + 1
    size_r, size_m = _draw_size(n - 2), _draw_size(1 << mask_bits)
    z = 8 * (size_r - size_m)
    # D = rho - 2 + k (n - 2) = H 2^(z + mask_bits) + s 2^z + l, s = w - phi_0 beta_j - beta_0 phi_j
    # mod phi_0:  (n-2) k - 2^(z+mb) H + beta_0 2^z phi_j - l = w 2^z - rho + 2
    bounds = {
        "k": (1 << (8 * size_r)) // (n - 2) + 1,
        "H": 1 << (8 * size_r - z - mask_bits),
        "phi": 1 << (params.half + 1),
    }
    scale = 1 << z
    for b in bounds.values():
        scale *= b
    wk, wh, wp = (scale // b for b in bounds.values())
    wl = scale >> z
    target = (w * (1 << z) - rho + 2) % phi0
    rows = [
        [phi0 * wl, 0, 0, 0, 0],
        [(n - 2) % phi0 * wl, wk, 0, 0, 0],
        [(-(1 << (z + mask_bits))) % phi0 * wl, 0, wh, 0, 0],
        [(beta0 << z) % phi0 * wl, 0, 0, wp, 0],
        [(-target) % phi0 * wl, 0, 0, 0, scale],
    ]
    reduced = flint.fmpz_mat(rows).lll()
    for i in range(reduced.nrows()):
        row = [int(reduced[i, j]) for j in range(5)]
        if abs(row[4]) == scale:
            sign = 1 if row[4] > 0 else -1
            return sign * row[3] // wp
    return None


@pytest.mark.parametrize("bits", [1024, pytest.param(2048, marks=pytest.mark.long)])
def test_a_key_stage_reply_does_not_give_its_holder_the_responders_phi(bits):
    """At 2048 bits: production key sizes (4 268-bit key-stage key); before the fix the
    lattice gave phi_j there too (0.05 CPU-s of LLL)."""
    params = DkgParams(bits, 3, insecure_allow_small=bits < 2048)
    keys = OleKeys.generate(params)
    publics = [keys.public] * 3  # only holder 0's key-stage key takes part
    shares = [
        {"p": secrets.randbits(params.half - 3), "q": secrets.randbits(params.half - 3)}
        for _ in range(3)
    ]
    n = sum(s["p"] for s in shares) * sum(s["q"] for s in shares)
    parties = [AdditiveCandidate(params, j, secrets.token_bytes(32), keys, publics) for j in (0, 1)]
    for party, share in zip(parties, shares, strict=False):
        party.prime_share = dict(share)
        party.key_request(n)  # sets key_inputs (phi_j, beta_j) as the protocol does
    phi0, beta0 = parties[0].key_inputs["phi"], parties[0].key_inputs["beta"]
    key = keys.key
    n0, n02 = key.public.n, key.public.n_square
    request = [(1 + phi0 * n0) % n02, (1 + beta0 * n0) % n02]  # in range, randomness 1
    reply = parties[1].key_reply(0, request)
    assert key.decrypt(reply) is not None
    leaked = _phi_from_reply(params, key, phi0, beta0, reply)
    assert leaked != parties[1].key_inputs["phi"], "the holder read the responder's phi_j"


def test_the_key_stage_range_proof_accepts_requests_with_randomness_one():
    """The premise of the key-stage attack: the range proofs bind the plaintext to its interval,
    not the randomness, so holder 0's requests 1 + v N_i (in range) carry valid proofs and no
    check refuses them (the key stage is never audited). Only the independent reply randomness
    keeps the reply from giving the responder's input away."""
    from coopetition.protocols.paillier.dkg.additive import key_input_ranges
    from coopetition.protocols.paillier.keys import register_insecure_test_key
    from coopetition.protocols.zk import range_params, range_proof
    from coopetition.protocols.zk.range_proof import RangeStatement, RangeWitness
    from coopetition.protocols.zk.transcript import ProofContext

    params = DkgParams(1024, 3, insecure_allow_small=True)
    public = OleKeys.generate(params).key.public
    register_insecure_test_key(public)
    rp, _ = range_params.generate(range_params.MIN_TEST_BITS, insecure_allow_small=True)
    range_params.admit_insecure_modulus(rp)
    n = (1 << (params.bits - 1)) + 12345
    phi0, beta0 = n + 1 - (1 << (params.half - 1)), secrets.randbelow(params.beta_bound)
    cts = [(1 + v * public.n) % public.n_square for v in (phi0, beta0)]
    ranges = key_input_ranges(params, 0, n)
    claims = [RangeStatement(c, lo, hi) for c, (lo, hi) in zip(cts, ranges, strict=True)]
    context = ProofContext(b"s", "dkg-key-range/0", 0, 0)
    witnesses = [RangeWitness(phi0, 1), RangeWitness(beta0, 1)]
    proof = range_proof.prove(public, rp, claims, witnesses, context)
    range_proof.verify(public, rp, claims, proof, context)  # raises ProofRejected if refused
