"""Paillier encryption with g = N + 1, threshold decryption and vectorised operations.

API (all plaintexts are signed integers in (-N/2, N/2); ciphertexts are Python ints):

Keys (``keys``)
    ``generate_keypair(bits=2048, *, insecure_allow_small=False) -> (PublicKey, PrivateKey)``
    (safe primes; < 2048 bits needs the insecure flag), ``insecure_test_keypair(bits=512)``
    (cached, tests only). Small keys made or decoded with the insecure flag are remembered
    (``register_insecure_test_key(pk)``, ``is_insecure_test_key(pk)``): proof verifiers refuse
    any other key below 2048 bits. ``PublicKey(n)``: ``raw_encrypt(m, r)`` = Enc(m; r) with full
    randomness, ``encrypt(m)``, ``encrypt_with_rn(m, r**N)``, ``encode``/``decode`` (signed <->
    Z_N), ``check_ciphertext(c, what=)``, ``check_ciphertexts(cs)`` (names the bad index),
    ``fingerprint``. Plaintexts are integers only (int, mpz, numpy integer; ``TypeError``
    otherwise): the signed API (``encode``, ``encrypt``, ``Encryptor.encrypt*``,
    ``ops.add_plain``) refuses values outside (-N/2, N/2), the raw layer (``raw_encrypt``,
    ``encrypt_with_rn``, ``encrypt_with_randomness``; ``residue(m)``) values outside (-N/2, N);
    ``as_int(x)`` is the shared integer check. ``PrivateKey``: ``decrypt(c)`` (CRT), ``raw_decrypt(c)``.

Fast encryption (``encryptor``)
    ``Encryptor(pk, window_bits=8)``: Damgård–Jurik–Nielsen short-exponent randomness
    h_s**alpha from a fixed-base table; ``encrypt(m)``, ``encrypt_vector(ms)``,
    ``encrypt_array(a)`` (numpy, any shape), ``encrypt_with_randomness(m) -> (c, r)`` (r in
    Z_N^* with c = pk.raw_encrypt(m, r), for proofs). ``RandomnessPool(pk)``: ``fill(count,
    processes=k)`` ahead of time (k worker processes) or ``fill_in_background(count)``, then
    encryption costs one multiplication. A pool is discarded in a forked child and refuses
    pickling, so no randomness is handed out twice.

Homomorphic operations (``ops``)
    ``add``, ``sub``, ``neg``, ``add_plain``, ``mul_plain``; vectors ``add_vec``, ``sub_vec``,
    ``add_plain_vec``, ``mul_plain_vec``, ``scale_vec`` (also numpy arrays of any shape),
    ``sum_ct``, ``dot_plain``; plaintext matrices ``matvec(pk, A, x)``, ``matmul(pk, A, X)``,
    ``matmul_right(pk, X, B)``. Operations that exponentiate or invert check each ciphertext
    first (``InvalidCiphertext`` naming the index); matrices must be rectangular.

Threshold decryption, all m parties needed (``threshold``)
    ``TrustedDealerKeyGeneration(m, bits)`` (the dealer learns the key; tests/simulations) behind
    ``ThresholdKeyGeneration``; ``ThresholdPublicKey`` (refuses degenerate verification bases and
    keys: +-1, order <= 2, +-1 mod N, Jacobi -1, product of v_i not 1 mod N), ``KeyShare``;
    ``partial_decrypt(key_share, cts, context) -> DecryptionShare`` (with a batched proof of
    correct decryption, ``coopetition.protocols.zk.decryption``);
    ``combine(tpk, {party: DecryptionShare}, cts, context) -> plaintexts`` (verifies every
    proof; ``CheatingDetected(culprit=party)``, ``UnknownParty``, ``MissingShares``).

Wire format (``serialize``)
    ``encode_ciphertexts(pk, cts) -> bytes``, ``decode_ciphertexts(pk, data) -> list[int]``;
    public key, threshold public key, key share and decryption share (de)serialisation.

Cost accounting (``opcount``): ``with opcount.counting() as c: ...`` counts exponentiations.
"""

from .keys import (
    InvalidCiphertext,
    PrivateKey,
    PublicKey,
    generate_keypair,
    insecure_test_keypair,
    is_insecure_test_key,
    register_insecure_test_key,
)

__all__ = [
    "InvalidCiphertext",
    "PrivateKey",
    "PublicKey",
    "generate_keypair",
    "insecure_test_keypair",
    "is_insecure_test_key",
    "register_insecure_test_key",
]
