"""Threshold decryption with all m parties: shares, proofs, combination and named culprits."""

from dataclasses import replace

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.paillier.keys import InvalidCiphertext, insecure_test_keypair
from coopetition.protocols.paillier.threshold import (
    DecryptionShare,
    MissingShares,
    TrustedDealerKeyGeneration,
    UnknownParty,
    combine,
    partial_decrypt,
    threshold_decrypt,
)
from coopetition.protocols.zk.decryption import DecryptionProof, prove_decryption_shares
from coopetition.protocols.zk.transcript import ProofContext

PK, SK = insecure_test_keypair(512)
M = 4
DEALER = TrustedDealerKeyGeneration(M, keypair=(PK, SK), insecure_allow_small=True)
TPK = DEALER.threshold_public
SHARES = DEALER.key_shares()
CTX = ProofContext(b"session-1", "decrypt", 3, 0)
HALF = PK.n // 2


def _shares(cts, context=CTX):
    return {s.party: partial_decrypt(s, cts, replace(context, prover=s.party)) for s in SHARES}


def test_shares_sum_to_a_decryption_exponent():
    d = sum(s.secret for s in SHARES)
    lam = SK.lam
    assert d % lam == 0 and d % PK.n == 1
    assert SHARES[-1].secret != 0 and all(0 <= s.secret < PK.n_square << 128 for s in SHARES[:-1])


def test_small_key_needs_insecure_flag():
    with pytest.raises(ValueError):
        TrustedDealerKeyGeneration(2, keypair=(PK, SK))


def test_dealer_refuses_primes_that_are_not_safe():
    from coopetition.protocols.paillier.keys import PrivateKey, PublicKey
    from coopetition.protocols.paillier.primes import random_prime

    while True:
        p, q = random_prime(256), random_prime(256)
        if not gmpy2.is_prime((p - 1) // 2) and not gmpy2.is_prime((q - 1) // 2):
            break
    public = PublicKey(p * q)
    with pytest.raises(ValueError, match="safe primes"):
        TrustedDealerKeyGeneration(
            2, keypair=(public, PrivateKey(public, p, q)), insecure_allow_small=True
        )


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.one_of(st.integers(-HALF, HALF), st.sampled_from([0, HALF, -HALF])),
        min_size=1,
        max_size=4,
    )
)
def test_threshold_decryption_inverts_encryption(values):
    cts = [PK.encrypt(v) for v in values]
    assert threshold_decrypt(SHARES, cts, CTX) == values


def test_combination_of_a_single_ciphertext():
    c = PK.encrypt(-42)
    shares = {s.party: partial_decrypt(s, c, replace(CTX, prover=s.party)) for s in SHARES}
    assert combine(TPK, shares, c, CTX) == [-42]


def test_wrong_share_value_names_the_culprit():
    cts = [PK.encrypt(v) for v in (7, 8, 9)]
    shares = _shares(cts)
    bad = shares[2]
    values = list(bad.values)
    values[1] = values[1] * (1 + PK.n) % PK.n_square  # shifts that party's share of the plaintext
    shares[2] = replace(bad, values=tuple(values))
    with pytest.raises(CheatingDetected) as info:
        combine(TPK, shares, cts, CTX)
    assert info.value.culprit == 2


def test_order_two_factor_is_rejected():
    # -s has the same square as s, but the proof is bound to the value sent.
    cts = [PK.encrypt(11)]
    shares = _shares(cts)
    shares[1] = replace(shares[1], values=(PK.n_square - shares[1].values[0],))
    with pytest.raises(CheatingDetected) as info:
        combine(TPK, shares, cts, CTX)
    assert info.value.culprit == 1


def test_lying_prover_with_a_consistent_proof_is_rejected():
    """Party 3 computes shares with a wrong exponent and proves that false statement honestly."""
    cts = [PK.encrypt(v) for v in (1, 2)]
    shares = _shares(cts)
    liar = SHARES[3]
    wrong = liar.secret + 1
    values = [int(gmpy2.powmod(c, 2 * wrong, PK.n_square)) for c in cts]
    proof = prove_decryption_shares(
        PK,
        TPK.verification_base,
        TPK.verification_keys[3],
        wrong,
        TPK.share_bits,
        cts,
        values,
        replace(CTX, prover=3),
    )
    shares[3] = DecryptionShare(3, tuple(values), proof)
    with pytest.raises(CheatingDetected) as info:
        combine(TPK, shares, cts, CTX)
    assert info.value.culprit == 3


@pytest.mark.parametrize("field", ["challenge", "response"])
def test_altered_proof_names_the_culprit(field):
    cts = [PK.encrypt(5)]
    shares = _shares(cts)
    proof = shares[0].proof
    shares[0] = replace(shares[0], proof=replace(proof, **{field: getattr(proof, field) + 1}))
    with pytest.raises(CheatingDetected) as info:
        combine(TPK, shares, cts, CTX)
    assert info.value.culprit == 0


def test_share_from_an_unknown_party():
    cts = [PK.encrypt(5)]
    shares = _shares(cts)
    shares[M] = replace(shares[0], party=M)
    with pytest.raises(UnknownParty, match=f"party {M}"):
        combine(TPK, shares, cts, CTX)


def test_missing_share():
    cts = [PK.encrypt(5)]
    shares = _shares(cts)
    del shares[1]
    with pytest.raises(MissingShares, match=r"\[1\]"):
        combine(TPK, shares, cts, CTX)


def test_bad_ciphertext_is_named_and_nothing_decrypted():
    cts = [PK.encrypt(5), SK.p]
    with pytest.raises(InvalidCiphertext, match=r"ciphertext\[1\]"):
        partial_decrypt(SHARES[0], cts, CTX)
    with pytest.raises(InvalidCiphertext, match=r"ciphertext\[0\]"):
        partial_decrypt(SHARES[0], [PK.n_square], CTX)


def test_share_value_not_a_unit_names_party_and_index():
    cts = [PK.encrypt(5), PK.encrypt(6)]
    shares = _shares(cts)
    shares[2] = replace(shares[2], values=(shares[2].values[0], SK.q))
    with pytest.raises(CheatingDetected, match=r"\[1\] of party 2") as info:
        combine(TPK, shares, cts, CTX)
    assert info.value.culprit == 2


def test_wrong_number_of_shares():
    cts = [PK.encrypt(5), PK.encrypt(6)]
    shares = _shares(cts)
    shares[1] = replace(shares[1], values=shares[1].values[:1])
    with pytest.raises(CheatingDetected) as info:
        combine(TPK, shares, cts, CTX)
    assert info.value.culprit == 1


def test_malformed_proof_fields():
    cts = [PK.encrypt(5)]
    shares = _shares(cts)
    shares[0] = replace(shares[0], proof=DecryptionProof(challenge=-1, response=3))
    with pytest.raises(CheatingDetected):
        combine(TPK, shares, cts, CTX)


# -- regressions from the review of issue 5 ------------------------------------------------------


def _jacobi_minus_one_unit() -> int:
    x = 2
    while gmpy2.jacobi(x, PK.n) != -1:
        x += 1
    return x


def test_degenerate_verification_bases_are_refused():
    """Defect 4: v = 1 (or v_i = 1) was accepted; then the proof binds no exponent and
    ``combine`` returned garbage without ``CheatingDetected``."""
    from coopetition.protocols.paillier.threshold import ThresholdPublicKey

    n2 = PK.n_square
    v, keys, bits = TPK.verification_base, TPK.verification_keys, TPK.share_bits
    ThresholdPublicKey(PK, v, keys, bits)  # the honest key passes
    for bad_v in (1, n2 - 1, 1 + PK.n, n2 - 1 - PK.n, _jacobi_minus_one_unit()):
        with pytest.raises(ValueError, match="verification base"):
            ThresholdPublicKey(PK, bad_v, keys, bits)
    for bad_vi in (1, n2 - 1, 1 + 5 * PK.n, _jacobi_minus_one_unit()):
        with pytest.raises(ValueError, match="verification key of party 2"):
            ThresholdPublicKey(PK, v, (*keys[:2], bad_vi, *keys[3:]), bits)
    with pytest.raises(ValueError, match="not 1 modulo N"):  # v_2 swapped for another square
        ThresholdPublicKey(PK, v, (*keys[:2], keys[2] * v % n2 * v % n2, *keys[3:]), bits)
    with pytest.raises(ValueError, match="verification base"):
        ThresholdPublicKey(PK, 1, (1,) * M, bits)


def test_degenerate_key_files_are_refused_when_decoded():
    from coopetition.protocols.paillier.serialize import (
        MalformedEncoding,
        _pack,
        decode_threshold_public_key,
    )

    good = _pack(b"PTK1", [PK.n, TPK.verification_base, TPK.share_bits, *TPK.verification_keys])
    assert decode_threshold_public_key(good, insecure_allow_small=True) == TPK
    bad = _pack(b"PTK1", [PK.n, 1, TPK.share_bits, *([1] * M)])
    with pytest.raises(MalformedEncoding, match="order at most 2 modulo N"):
        decode_threshold_public_key(bad, insecure_allow_small=True)


def test_shares_with_a_wrong_exponent_are_caught_under_the_honest_key():
    """Companion of the test above: the reviewer's shares (exponent d' != d_i, proved against
    v = v_i = 1) are named as cheating under the honest key, the only kind now accepted."""
    cts = [PK.encrypt(42)]
    d_fake = SHARES[0].secret + 12345
    values = tuple(int(gmpy2.powmod(c, 2 * d_fake, PK.n_square)) for c in cts)
    ctx0 = replace(CTX, prover=0)
    proof = prove_decryption_shares(PK, 1, 1, d_fake, TPK.share_bits, cts, values, ctx0)
    shares = _shares(cts)
    shares[0] = DecryptionShare(0, values, proof)
    with pytest.raises(CheatingDetected) as info:
        combine(TPK, shares, cts, CTX)
    assert info.value.culprit == 0


def test_a_one_party_key_still_works():
    """v_1 = v^d is 1 modulo N by construction: the check modulo N is for several parties."""
    from coopetition.protocols.paillier.threshold import ThresholdPublicKey

    solo = TrustedDealerKeyGeneration(1, keypair=(PK, SK), insecure_allow_small=True)
    (v1,) = solo.threshold_public.verification_keys
    assert v1 % PK.n == 1
    cts = [PK.encrypt(-77), PK.encrypt(5)]
    assert threshold_decrypt(solo.key_shares(), cts, CTX) == [-77, 5]
    with pytest.raises(ValueError, match="party 0"):
        ThresholdPublicKey(PK, solo.threshold_public.verification_base, (1,), TPK.share_bits)
