"""Oblivious transfer: maliciously secure base OT and KOS OT extension, vectorised with numpy.

Layout (one job per module):

* :mod:`.aes` - fixed-key AES as a tweakable correlation-robust hash (TMMO) and AES-CTR as the
  PRG, both from the ``cryptography`` package (AES-NI).
* :mod:`.bitmatrix` - bit-matrix transpose on 8x8 blocks held in ``uint64`` words.
* :mod:`.baseot` - Masny-Rindal endemic OT on the prime-order group of Curve25519 (edwards25519
  through libsodium), batched.
* :mod:`.kos` - Keller-Orsini-Scholl OT extension with its correlation check.
* :mod:`.errors` - typed aborts.

The objects here are sans-IO: they turn received bytes into bytes to send; the MASCOT programs
in :mod:`coopetition.protocols.spdz.mascot` route them between parties. Parameters and sources:
``docs/crypto.md`` (chapter "MASCOT").
"""
