"""The one full-size check: a real 2048-bit key, DJN encryption and 4-party threshold decryption."""

from dataclasses import replace

import gmpy2
import pytest

from coopetition.engine.errors import CheatingDetected
from coopetition.protocols.paillier import ops
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.threshold import (
    TrustedDealerKeyGeneration,
    combine,
    partial_decrypt,
)
from coopetition.protocols.zk.transcript import ProofContext


def test_2048_bit_threshold_round_trip():
    dealer = TrustedDealerKeyGeneration(4, 2048)
    tpk = dealer.threshold_public
    pk, sk = tpk.public, dealer.dealer_private_key
    assert pk.bits == 2048
    assert gmpy2.is_prime((sk.p - 1) // 2) and gmpy2.is_prime((sk.q - 1) // 2)
    enc = Encryptor(pk)
    assert enc.exponent_bits == 1024
    values = [0, -1, 2**62, -(pk.n // 2), pk.n // 2]
    cts = enc.encrypt_vector(values)
    assert [sk.decrypt(c) for c in cts] == values
    summed = ops.add_vec(pk, cts, cts[::-1])
    ctx = ProofContext(b"full-size", "output", 0, 0)
    shares = {
        s.party: partial_decrypt(s, summed, replace(ctx, prover=s.party))
        for s in dealer.key_shares()
    }
    expected = [pk.decode(a + b) for a, b in zip(values, values[::-1], strict=True)]
    assert combine(tpk, shares, summed, ctx) == expected
    forged = list(shares[3].values)
    forged[0] = forged[0] * (1 + pk.n) % pk.n_square
    shares[3] = replace(shares[3], values=tuple(forged))
    with pytest.raises(CheatingDetected) as info:
        combine(tpk, shares, summed, ctx)
    assert info.value.culprit == 3
