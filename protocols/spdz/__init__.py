"""SPDZ: additive secret shares with MACs over a 256-bit prime, with a real offline phase.

Layout (one job per module):

* :mod:`.field` - arithmetic modulo the public prime ``P`` on numpy object vectors.
* :mod:`.shares` - :class:`Share` (a party's value shares and MAC shares) and local operations.
* :mod:`.preprocessing` - batches of triples, bits, random values and input masks; the
  consume-once :class:`PreprocessingStore`; :class:`InsecureDealerPreprocessing` (tests only).
* :mod:`.online` - the online phase as sans-IO per-party programs (generators that yield
  :class:`Exchange` requests): input, open with commit-then-open MAC check, Beaver
  multiplication, probabilistic truncation, less-than-zero and soft thresholding.
* :mod:`.harness` - runs m parties' programs in one process, passing their messages explicitly.
* :mod:`.offline` - the maliciously secure offline phase from threshold Paillier and proofs.
* :mod:`.gadgets` - Helen's Gadget 3 (Paillier <-> SPDZ) and Gadget 4 (verification).
"""
