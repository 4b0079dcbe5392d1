"""The proof of correct decryption: complete, and sensitive to every value it covers."""

from dataclasses import replace

import gmpy2
import pytest

from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.paillier.threshold import TrustedDealerKeyGeneration
from coopetition.protocols.zk.decryption import (
    CHALLENGE_BITS,
    DecryptionProof,
    prove_decryption_shares,
    verify_decryption_shares,
)
from coopetition.protocols.zk.transcript import ProofContext

PK, SK = insecure_test_keypair(512)
DEALER = TrustedDealerKeyGeneration(3, keypair=(PK, SK), insecure_allow_small=True)
TPK = DEALER.threshold_public
PARTY = 1
SECRET = DEALER.key_share(PARTY).secret
CTX = ProofContext(b"session", "output", 7, PARTY)
CTS = [PK.encrypt(v) for v in (10, -20, 30)]
VALUES = [int(gmpy2.powmod(c, 2 * SECRET, PK.n_square)) for c in CTS]


def statement(**changes):
    base = {
        "public": PK,
        "verification_base": TPK.verification_base,
        "verification_key": TPK.verification_keys[PARTY],
        "share_bits": TPK.share_bits,
        "ciphertexts": list(CTS),
        "shares": list(VALUES),
        "context": CTX,
    }
    base.update(changes)
    return base


def prove(**changes):
    s = statement(**changes)
    return prove_decryption_shares(
        s["public"],
        s["verification_base"],
        s["verification_key"],
        SECRET,
        s["share_bits"],
        s["ciphertexts"],
        s["shares"],
        s["context"],
    )


def verify(proof, **changes):
    s = statement(**changes)
    return verify_decryption_shares(
        s["public"],
        s["verification_base"],
        s["verification_key"],
        s["share_bits"],
        s["ciphertexts"],
        s["shares"],
        proof,
        s["context"],
    )


PROOF = prove()


def test_honest_proof_verifies():
    assert verify(PROOF)
    assert verify(prove())  # fresh nonce, still valid


def _bump(values, index):
    out = list(values)
    out[index] = out[index] * 4 % PK.n_square  # another unit
    return out


@pytest.mark.parametrize(
    "changes",
    [
        {"verification_base": TPK.verification_base * 4 % PK.n_square},
        {"verification_key": TPK.verification_keys[0]},
        {"ciphertexts": _bump(CTS, 0)},
        {"ciphertexts": _bump(CTS, 2)},
        {"shares": _bump(VALUES, 1)},
        {"ciphertexts": CTS[:2], "shares": VALUES[:2]},
        {"ciphertexts": CTS[::-1], "shares": VALUES[::-1]},
        {"context": replace(CTX, session=b"other")},
        {"context": replace(CTX, phase="input")},
        {"context": replace(CTX, round=8)},
        {"context": replace(CTX, prover=2)},
    ],
    ids=[
        "base",
        "vkey",
        "ct0",
        "ct2",
        "share1",
        "fewer",
        "order",
        "session",
        "phase",
        "round",
        "prover",
    ],
)
def test_any_altered_public_value_or_context_is_rejected(changes):
    assert not verify(PROOF, **changes)


def test_other_key_is_rejected():
    other, _ = insecure_test_keypair(640)
    assert not verify(PROOF, public=other)


@pytest.mark.parametrize("delta", [1, -1, 1 << 100])
def test_altered_response_or_challenge_is_rejected(delta):
    assert not verify(DecryptionProof(PROOF.challenge, PROOF.response + delta))
    e = (PROOF.challenge + delta) % (1 << CHALLENGE_BITS)
    assert not verify(DecryptionProof(e, PROOF.response))


def test_out_of_range_proof_values_are_rejected():
    assert not verify(DecryptionProof(1 << CHALLENGE_BITS, PROOF.response))
    assert not verify(DecryptionProof(PROOF.challenge, 1 << (TPK.share_bits + 400)))
    assert not verify(DecryptionProof(True, PROOF.response))


def test_false_statement_is_rejected():
    """A prover who really knows SECRET but claims shares of another exponent cannot convince."""
    for wrong in (SECRET + 1, SECRET + SK.lam, -SECRET):
        values = [int(gmpy2.powmod(c, 2 * wrong, PK.n_square)) for c in CTS]
        proof = prove_decryption_shares(
            PK,
            TPK.verification_base,
            TPK.verification_keys[PARTY],
            wrong,
            TPK.share_bits,
            CTS,
            values,
            CTX,
        )
        assert not verify(proof, shares=values)
    # one wrong share in a batch of otherwise honest ones
    values = list(VALUES)
    values[2] = int(gmpy2.powmod(CTS[2], 2 * SECRET + 2, PK.n_square))
    proof = prove(shares=values)
    assert not verify(proof, shares=values)


# -- regressions from the review of issue 5 ------------------------------------------------------

_NON_UNIT_SCRIPT = r"""
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.paillier.threshold import TrustedDealerKeyGeneration, partial_decrypt
from coopetition.protocols.zk.decryption import verify_decryption_shares
from coopetition.protocols.zk.transcript import ProofContext

pk, sk = insecure_test_keypair(512)
dealer = TrustedDealerKeyGeneration(2, keypair=(pk, sk), insecure_allow_small=True)
tpk = dealer.threshold_public
ctx = ProofContext(b"s", "out", 1, 0)
cts = [pk.encrypt(5), pk.encrypt(6)]
share = partial_decrypt(dealer.key_share(0), cts, ctx)
v, v0, bits, proof = tpk.verification_base, tpk.verification_keys[0], tpk.share_bits, share.proof
vals = list(share.values)
p = sk.p
cases = {
    "honest": (v, v0, cts, vals),
    "share_p": (v, v0, cts, [p, vals[1]]),
    "share_0": (v, v0, cts, [0, vals[1]]),
    "share_negative": (v, v0, cts, [-vals[0], vals[1]]),
    "share_n2": (v, v0, cts, [pk.n_square + 1, vals[1]]),
    "ciphertext_p": (v, v0, [cts[0], p * 3], vals),
    "base_p": (p, v0, cts, vals),
    "key_q": (v, sk.q, cts, vals),
    "share_float": (v, v0, cts, [float(vals[0]), vals[1]]),
}
for name, (vb, vk, cs, ss) in cases.items():
    print(name, verify_decryption_shares(pk, vb, vk, bits, cs, ss, proof, ctx))
"""


def test_non_unit_values_return_false_instead_of_aborting_the_process():
    """Defect 5: a non-unit share reached gmpy2 with a negative exponent and GMP abort()ed the
    whole process (SIGABRT). Run in a child process so a regression cannot take pytest down."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _NON_UNIT_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-400:]
    verdicts = dict(line.split() for line in done.stdout.splitlines())
    assert verdicts.pop("honest") == "True"
    assert set(verdicts.values()) == {"False"} and len(verdicts) == 8


def test_verifier_refuses_a_key_not_made_as_an_insecure_test_key():
    """Defect 7 for the decryption proof: a small key built by hand is the verifier's error."""
    import secrets

    from coopetition.protocols.paillier.keys import PublicKey

    p = int(gmpy2.next_prime(secrets.randbits(512) | (1 << 511)))
    q = int(gmpy2.next_prime(secrets.randbits(512) | (1 << 511)))
    with pytest.raises(ValueError, match="insecure test option"):
        verify(PROOF, public=PublicKey(p * q))
