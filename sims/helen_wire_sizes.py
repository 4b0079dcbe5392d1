"""Sizes of Helen's largest messages: measured at small d, projected to d = 50 and 90.

``python -m coopetition.sims.helen_wire_sizes --measure 5,10,20 --key-bits 1024 --insecure``
proves one party's input preparation (``input_proof.prove``, m - 1 range proofs) at each d and
prints the encoded bytes and CBOR items of all it sends (its broadcast and the range proofs,
which go point-to-point to their verifiers, encoded together here), packed (today's ``zk.codec``) and one item per integer
(the encoding before packing, rebuilt here field by field for comparison). Without
``--measure`` it prints the projection only (no cryptography): the exact integer counts of
``input_wire.int_counts`` times the honest widths (ciphertexts 2 |N| bits, ring-Pedersen
values |N~| bits, responses as ``input_wire`` bounds them), the public bound
``input_wire.payload_bound`` and Gadget 4's mask broadcast, which grows with the number of
converted values of the run: (2 m + 1) d per iteration.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any

import numpy as np

from coopetition.engine.codec import count_items, encode_payload
from coopetition.protocols.fixedpoint import HelenScales
from coopetition.protocols.helen import input_proof, input_wire, numerics
from coopetition.protocols.spdz.gadgets import gadget4_budget
from coopetition.protocols.spdz.online import DEFAULT_KAPPA
from coopetition.protocols.zk import codec
from coopetition.protocols.zk import range_params as rpm
from coopetition.protocols.zk.range_proof import CHALLENGE_BITS, STAT_BITS
from coopetition.protocols.zk.transcript import ProofContext

ROWS = 400


def legacy(value: Any) -> Any:
    """A proof as nested lists with one CBOR integer per value (the encoding before packing)."""
    if type(value) in codec.SCHEMAS:
        return [legacy(getattr(value, f.name)) for f in fields(value)]
    if isinstance(value, (tuple, list)):
        return [legacy(v) for v in value]
    return int(value)


def scales_for(d: int, parties: int) -> HelenScales:
    return HelenScales(features=d, rows=ROWS, parties=parties, rho=4.0, x_bound=8.0, y_bound=8.0)


def measure(d: int, parties: int, key_bits: int, insecure: bool) -> dict[str, int]:
    """Encode one honest party's input messages at this d (proves them: seconds at d = 20)."""
    from coopetition.protocols.paillier.keys import insecure_test_keypair
    from coopetition.sims.benchkit import random_modulus

    pk = insecure_test_keypair(key_bits)[0] if insecure else random_modulus(key_bits)
    rings = {j: rpm.generate(key_bits, insecure_allow_small=insecure)[0] for j in range(1, parties)}
    rng = np.random.default_rng(d)
    X = rng.uniform(-2, 2, size=(ROWS, d))
    y = X @ rng.uniform(-1, 1, size=d) / d + 0.1 * rng.normal(size=ROWS)
    scales = scales_for(d, parties)
    prep = numerics.prepare_input(X, y, scales)
    ctx = ProofContext(b"wire-sizes", "input-prep", 0, 0)
    com, proof, _ = input_proof.prove(pk, prep, scales, ctx, rings)
    packed = encode_payload({"com": codec.encode(com), "proof": codec.encode(proof)})
    old = encode_payload({"com": legacy(com), "proof": legacy(proof)})
    return {
        "packed_bytes": len(packed),
        "packed_items": count_items(packed),
        "old_bytes": len(old),
        "old_items": count_items(old, limit=10**9),
        "bound": input_wire.payload_bound(
            scales, parties, key_bits, [r.n.bit_length() for r in rings.values()]
        ),
    }


def _b(bits: int) -> int:
    return (bits + 1 + 7) // 8  # zigzag adds one bit


def input_estimate(d: int, parties: int, key_bits: int) -> dict[str, int]:
    """Honest packed bytes and items of one party's input messages, and the one-item-per-int
    items."""
    c = input_wire.int_counts(d, parties)
    u_bits = input_wire.value_bits(scales_for(d, parties)) + CHALLENGE_BITS + STAT_BITS + 1
    v_bits = key_bits + 2 * STAT_BITS + CHALLENGE_BITS + 1
    size = (
        c["ciphertexts"] * _b(2 * key_bits)
        + c["range_commitments"] * _b(key_bits)
        + c["range_u"] * _b(u_bits)
        + c["range_v"] * _b(v_bits)
    )
    ints = sum(c.values())
    statements = input_wire.range_statement_count(d) * (parties - 1)
    return {
        "bytes": size,
        "bound": input_wire.payload_bound(
            scales_for(d, parties), parties, key_bits, [key_bits] * (parties - 1)
        ),
        "old_items": 2 * ints + 4 * statements,  # a bignum is 2 items; 4 row lists per statement
        "ints": ints,
    }


def gadget4_estimate(d: int, parties: int, key_bits: int, iterations: int) -> dict[str, int]:
    """Gadget 4's former mask broadcast (removed in issue 15: docs/crypto.md, "Gadget 3 without
    published shares"; kept as the historical figure): 2 ciphertexts and one range proof
    per verifier over 2 statements, whatever d and the iterations (one random combination of
    the (2 m + 1) d conversions per iteration; docs/crypto.md)."""
    n = 1
    statements = 2 * n
    mask_bits = gadget4_budget(0, parties, DEFAULT_KAPPA).rm_bits + 1  # the wider of the two
    u_bits = mask_bits + CHALLENGE_BITS + STAT_BITS + 1
    v_bits = key_bits + 2 * STAT_BITS + CHALLENGE_BITS + 1
    per_proof = statements * (10 * _b(key_bits) + 5 * _b(u_bits) + 5 * _b(v_bits))
    ints = 2 * n + (parties - 1) * (20 * statements + 7)
    return {
        "bytes": 2 * n * (_b(2 * key_bits) + 2) + (parties - 1) * per_proof,
        "old_items": 2 * ints + 4 * statements * (parties - 1),
        "ints": ints,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", default="", help="comma-separated d to prove and encode")
    parser.add_argument("--key-bits", type=int, default=1024)
    parser.add_argument("--parties", type=int, default=3)
    parser.add_argument("--insecure", action="store_true", help="INSECURE test keys below 2048")
    parser.add_argument("--iterations", type=int, default=5, help="for Gadget 4's projection")
    args = parser.parse_args(argv)
    for d in [int(x) for x in args.measure.split(",") if x]:
        got = measure(d, args.parties, args.key_bits, args.insecure)
        est = input_estimate(d, args.parties, args.key_bits)
        print(f"measured d={d} m={args.parties} |N|={args.key_bits}: {got}; model {est}")
    for d in (50, 90):
        for parties in (3, 4):
            for bits in (1024, 2048):
                inp = input_estimate(d, parties, bits)
                g4 = gadget4_estimate(d, parties, bits, args.iterations)
                print(
                    f"d={d} m={parties} |N|={bits}: input {inp['bytes'] / 2**20:.0f} MiB "
                    f"(bound {inp['bound'] / 2**20:.0f} MiB, {inp['ints']} integers, "
                    f"{inp['old_items']} items unpacked); Gadget 4 masks x{args.iterations} "
                    f"iterations {g4['bytes'] / 2**20:.0f} MiB ({g4['old_items']} items unpacked)"
                )


if __name__ == "__main__":
    main()
