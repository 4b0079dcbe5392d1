"""SPDZ: additive secret shares with MACs over a 256-bit prime, with a real offline phase.

Layout (one job per module):

* :mod:`.field` - arithmetic modulo the public prime ``P = 2**256 - 189`` on numpy object vectors.
* :mod:`.shares` - :class:`Share` (a party's value shares and MAC shares) and local operations.
* :mod:`.preprocessing` - batches of triples, bits, random values, bounded masks and input masks;
  the consume-once :class:`PreprocessingStore` (CBOR-serialisable; ``save``/``load`` keep a
  fsynced consumption journal so stored items are never spent twice across restarts);
  :class:`InsecureDealerPreprocessing` (a trusted dealer; tests only).
* :mod:`.online` - the online phase as sans-IO per-party programs (generators that yield
  :class:`Exchange` requests): ``SpdzParty.input / open / mac_check / output / mul / trunc_pr /
  ltz / soft_threshold``, and ``needs_*`` helpers that size the preprocessing.
* :mod:`.harness` - ``run_local(programs, tamper=..., stats=...)`` runs m parties' programs in one
  process, CBOR-encoding every message.
* :mod:`.machine` - ``ProgramMachine`` / ``SpdzRun``: the same programs as engine phase machines.
* :mod:`.conversion` - ``PaillierParty``: threshold-Paillier side of a party, MAC-key setup and
  ``authenticate`` (ciphertexts -> authenticated shares), shared by the offline phase and Gadget 3.
* :mod:`.offline` - ``OfflineParty.setup / fill / triples / bits / randoms / bounded /
  input_masks``: the maliciously secure offline phase.
* :mod:`.gadgets` - Helen's Gadget 3 (``ciphertext_to_shares``, ``shares_to_ciphertext``) and
  the end of a run's conversions (``verify_conversions(p, spdz, records)``: a final MAC
  check and retirement, once; alpha is never released).
* :mod:`.mascot` - ``MascotParty.setup / fill / triples / bits / randoms / bounded /
  input_masks``: preprocessing from oblivious transfer (MASCOT), the default generator;
  :mod:`.mascot_links` (KOS, COPE and Multiply towards every peer), :mod:`.fieldvec` (bulk
  arithmetic mod P on numpy buffers), :mod:`.pairwise` (point-to-point rounds),
  :mod:`.mascot_machine` (``MascotMachine`` / ``mascot_run`` over the engine),
  :mod:`.mascot_local` (``LocalMascot``: m local parties behind the dealer's interface) and
  :mod:`.generators` (``--preprocessing mascot|paillier``).
* :mod:`.errors` - ``MacCheckFailed`` (no culprit), ``CommitmentMismatch``,
  ``PreprocessingMismatch``, ``ConversionRejected``, ``PreprocessingReused``,
  ``PreprocessingExhausted``; all inside the project's ``ProtocolAborted`` hierarchy.
* :mod:`.testing` - small INSECURE threshold keys for tests and smoke benchmarks.

Construction, parameters and sources: ``docs/crypto.md``.
"""
