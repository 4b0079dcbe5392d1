"""A dealer's Paillier key with its two safe primes searched at the same time.

``keys.generate_keypair`` searches p, then q, on one core; a 1024-bit safe prime takes tens of
seconds of CPU, and the search for q does not depend on p. Here each prime is searched by
``primes.random_safe_prime`` in its own spawned process, so with two cores the key costs
about the wall time of the slower search instead of the sum. The primes are the same
function's output with the same randomness source (``secrets`` in each process), so the key's
distribution is that of ``generate_keypair``; the acceptance rule (p != q, N exactly ``bits``
long) is the same, and more than two processes would not help (one search per prime).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from .keys import (
    PrivateKey,
    PublicKey,
    check_modulus_bits,
    generate_keypair,
    register_insecure_test_key,
)
from .primes import random_safe_prime


def dealer_keypair(
    bits: int, workers: int = 2, *, insecure_allow_small: bool = False
) -> tuple[PublicKey, PrivateKey]:
    """A key of safe primes, p and q searched in parallel if workers > 1.

    Below 2048 bits only with ``insecure_allow_small`` (tests), as ``generate_keypair``.
    """
    check_modulus_bits(bits, insecure_allow_small=insecure_allow_small)
    if workers <= 1:
        return generate_keypair(bits, insecure_allow_small=insecure_allow_small)
    ctx = multiprocessing.get_context("spawn")  # a forked trio process is not safe to copy
    with ProcessPoolExecutor(2, mp_context=ctx) as pool:
        while True:
            p_job = pool.submit(random_safe_prime, bits // 2)
            q_job = pool.submit(random_safe_prime, bits - bits // 2)
            p, q = p_job.result(), q_job.result()
            if p != q and (p * q).bit_length() == bits:
                public = PublicKey(p * q)
                if insecure_allow_small:
                    register_insecure_test_key(public)
                return public, PrivateKey(public, p, q)
