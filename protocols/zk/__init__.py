"""Zero-knowledge proofs (Σ-protocols made non-interactive by Fiat–Shamir).

Modules: ``plaintext`` (knowledge of a plaintext), ``multiplication`` (plaintext–ciphertext
product), ``equality`` (two ciphertexts, one plaintext), ``interval`` (plaintext knowledge with
a range, for Gadgets 3 and 4), ``gadgets`` (Helen's Gadgets 1 and 2), ``decryption``
(decryption shares); shared machinery in ``group`` (validation, verification equations, batch
verification, exponentiation counts), ``transcript`` and ``errors`` (``ProofRejected``).
See docs/crypto.md.
"""
