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
