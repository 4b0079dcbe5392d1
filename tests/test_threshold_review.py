"""Regression tests: ``combine`` names the culprit for malformed share objects (issue 5, item 4).

A decryption share comes off the network, so any shape -- not a DecryptionShare, values that
are not a sequence of integers, a proof that is not a DecryptionProof of two integers -- must
end in ``CheatingDetected`` naming the party, never in AttributeError or TypeError.
"""

from dataclasses import replace

import gmpy2
import numpy as np
import pytest

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.paillier.threshold import (
    TrustedDealerKeyGeneration,
    UnknownParty,
    combine,
    partial_decrypt,
)
from coopetition.protocols.zk.decryption import DecryptionProof
from coopetition.protocols.zk.transcript import ProofContext

PK, SK = insecure_test_keypair(512)
DEALER = TrustedDealerKeyGeneration(3, keypair=(PK, SK), insecure_allow_small=True)
TPK = DEALER.threshold_public
CTX = ProofContext(b"review", "decrypt", 0, 0)
PLAIN = [7, -9]
CTS = [PK.encrypt(m) for m in PLAIN]
GOOD = {s.party: partial_decrypt(s, CTS, replace(CTX, prover=s.party)) for s in DEALER.key_shares()}


def _with(party, share):
    return {**GOOD, party: share}


MALFORMED = {
    "proof None": lambda s: replace(s, proof=None),
    "proof tuple": lambda s: replace(s, proof=(1, 2)),
    "proof str fields": lambda s: replace(s, proof=DecryptionProof("1", "2")),
    "proof bool fields": lambda s: replace(s, proof=DecryptionProof(True, 2)),
    "proof huge response": lambda s: replace(s, proof=DecryptionProof(1, 1 << 100000)),
    "values None": lambda s: replace(s, values=None),
    "values int": lambda s: replace(s, values=5),
    "values with str": lambda s: replace(s, values=("x", s.values[1])),
    "values with bool": lambda s: replace(s, values=(True, s.values[1])),
    "values with float": lambda s: replace(s, values=(1.5, s.values[1])),
    "values short": lambda s: replace(s, values=s.values[:1]),
    "values non-unit": lambda s: replace(s, values=(SK.p, s.values[1])),
    "not a share": lambda s: "junk",
    "None": lambda s: None,
    "a dict": lambda s: {"party": 1, "values": s.values, "proof": s.proof},
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_share_names_the_culprit(name):
    with pytest.raises(CheatingDetected) as info:
        combine(TPK, _with(1, MALFORMED[name](GOOD[1])), CTS, CTX)
    assert info.value.culprit == 1


def test_integer_types_in_a_share_are_accepted_alike():
    share = GOOD[2]
    as_mpz = replace(
        share,
        values=tuple(gmpy2.mpz(v) for v in share.values),
        proof=DecryptionProof(gmpy2.mpz(share.proof.challenge), gmpy2.mpz(share.proof.response)),
    )
    assert combine(TPK, _with(2, as_mpz), CTS, CTX) == PLAIN


@pytest.mark.parametrize("single", [CTS[0], gmpy2.mpz(CTS[0])])
def test_single_ciphertext_of_any_integer_type(single):
    shares = {
        s.party: partial_decrypt(s, single, replace(CTX, prover=s.party))
        for s in DEALER.key_shares()
    }
    assert combine(TPK, shares, single, CTX) == [7]


def test_single_numpy_integer_ciphertext():
    c = np.int64(5)  # a unit modulo N**2, decrypts to whatever it encrypts
    shares = {
        s.party: partial_decrypt(s, c, replace(CTX, prover=s.party)) for s in DEALER.key_shares()
    }
    assert combine(TPK, shares, c, CTX) == [SK.decrypt(5)]


def test_key_share_refuses_bool_party():
    with pytest.raises(UnknownParty):
        DEALER.key_share(True)
