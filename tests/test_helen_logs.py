"""No secret reaches a log record (or the run record) of a Helen run.

A small honest run (INSECURE 1280-bit test key, 3 parties, d = 2, 1 iteration, 12 rows each)
with every party logging through structlog and with stdlib logging captured at DEBUG. The test
gathers what must never be logged: the data, the section V integers (V, Sigma, Theta, y*, A, b
and their products), the Paillier factors p, q and lambda, every threshold key share, every
MAC key share and its randomness, every value a party proves (masks, value shares, MAC shares,
their encryption randomness), the shares it keeps from each conversion, and the exact integer
intermediates w_full_i of the reference with w, z and u within the random rounding of the
reference. It then searches every record for each, in decimal and in hex, and for the data also
as rounded decimals. ``test_the_search_finds_planted_secrets`` shows the search can fail.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import structlog
from test_helen_malicious import FEATURES, SLOW_MACHINE, _config
from test_helen_run import PARTIES, wine_parts

from coopetition.protocols.helen import input_proof
from coopetition.protocols.helen import numerics as H
from coopetition.protocols.helen.local_run import train_locally
from coopetition.protocols.helen.session import HelenRun
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.spdz.conversion import PaillierParty

SMALL_ROWS = 12
#: decimals shorter than this are common in logs (counts, sizes, rounds) and prove nothing
MIN_DECIMAL = 10**4
#: hex strings shorter than 16 digits could appear inside a digest by chance
MIN_HEX = 1 << 64

_DECIMAL = re.compile(r"\d+")
_FLOAT = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?")


def leaks(text: str, ints: Iterable[int], floats: Iterable[float]) -> list[str]:
    """Each secret found in ``text``: integers as whole decimal numbers or as hex digits
    (with or without leading zeros), floats within 1e-6 relative of a decimal in the text."""
    lowered = text.lower()
    tokens = set(_DECIMAL.findall(text))
    found = []
    for v in {int(x) for x in ints}:
        for a in {v, -v}:
            if a < MIN_DECIMAL:
                continue
            if str(a) in tokens or (a >= 10**15 and str(a) in text):
                found.append(f"int {a}")
            elif a >= MIN_HEX and format(a, "x") in lowered:
                found.append(f"hex {a:x}")
    decimals = np.array([float(t) for t in _FLOAT.findall(text)] or [np.nan])
    for x in floats:
        if abs(x) > 1e-3 and np.any(np.abs(decimals - x) <= 1e-6 * abs(x)):
            found.append(f"float {x!r}")
    return found


def test_the_search_finds_planted_secrets():
    share = 0x1F2E3D4C5B6A79881726354453627180A9B8C7D6E5F4
    text = json.dumps(
        {"event": "x", "a": 123456, "h": f"{share:064x}", "f": "-0.52842", "ok": [7, 2048, "ab"]}
    )
    assert leaks(text, [123456], []) == ["int 123456"]
    assert leaks(text, [share], []) == [f"hex {share:x}"]
    assert leaks(text, [], [-0.528420001]) == ["float -0.528420001"]
    assert leaks(text, [-123456], []) == ["int 123456"]  # a negative value printed unsigned
    assert leaks(text, [12345, 204800, 7], [0.7, 2048.5]) == []


def _data_secrets(parts, scales) -> tuple[list[int], list[float]]:
    """The data, the section V integers and one iteration's w_full, w, z and u (as integers)."""
    ints: list[int] = []
    floats: list[float] = []
    d = scales.features
    zero = np.zeros(d, dtype=object)
    w_full = []
    for X, y in parts:
        floats += [float(v) for v in np.concatenate([X.ravel(), y])]
        prep = H.prepare_input(X, y, scales)
        for name in ("V", "sigma", "theta", "ystar", "A_full", "A", "b_full", "b"):
            ints += [int(v) for v in np.asarray(getattr(prep, name)).ravel()]
        w_full.append(H.local_product(prep, zero, zero, scales))
        ints += [int(v) for v in w_full[-1]]
    z, u = H.coordinate(w_full, [zero] * len(parts), scales, _config().objective, random.Random(0))
    # TruncPr rounds at random: z and u_i within two units, w_i = u_i + z within four
    exact = [int(v) for v in z] + [int(v) for ui in u for v in ui]
    exact += [int(a) + int(b) for ui in u for a, b in zip(ui, z, strict=True)]
    ints += [v + e for v in exact for e in range(-4, 5)]
    return ints, floats


async def test_no_secret_in_any_log_record(caplog):
    parts = wine_parts(FEATURES, rows=SMALL_ROWS)
    config = _config()
    scales = config.scales(len(FEATURES), SMALL_ROWS, PARTIES)
    ints, floats = _data_secrets(parts, scales)
    _, sk = insecure_test_keypair(config.key_bits)
    lam = (sk.p - 1) * (sk.q - 1)
    ints += [sk.p, sk.q, lam, lam // math.gcd(sk.p - 1, sk.q - 1)]
    parties: list[PaillierParty] = []
    witnesses: list[Any] = []

    class Recording(PaillierParty):
        """An honest party that remembers every secret value it proves or keeps."""

        def __post_init__(self) -> None:
            super().__post_init__()
            parties.append(self)

        def prove_values(self, values, mode, bits, phase, rnd):
            cts, proofs, rands = super().prove_values(values, mode, bits, phase, rnd)
            ints.extend(int(v) for v in values)
            ints.extend(rands)
            return cts, proofs, rands

        def local_shares(self, b, bm, r, s):
            share = super().local_shares(b, bm, r, s)
            ints.extend(int(v) for v in (*share.value, *share.mac, *r, *s))
            return share

    class RecordingRun(HelenRun):
        @staticmethod
        def prove_input(*args, **kwargs):
            com, proof, witness = input_proof.prove(*args, **kwargs)
            witnesses.append(witness)
            return com, proof, witness

    def options(pid: int) -> dict[str, Any]:
        return {"logger": structlog.get_logger("helen-test")}

    caplog.set_level(logging.DEBUG)
    # a test that ran the CLI in this process may have left structlog filtering below INFO
    # (``cli_logging``); capture_logs replaces the processors, not the level filter
    structlog.reset_defaults()
    with structlog.testing.capture_logs() as records:
        run = await train_locally(
            parts,
            config,
            session=b"helen-logs",
            deadlines=SLOW_MACHINE,
            paillier_class={p: Recording for p in range(PARTIES)},
            run_class={p: RecordingRun for p in range(PARTIES)},
            party_options=options,
        )
    assert run.completed, run.errors
    assert records, "the parties logged nothing: the test would prove nothing"
    assert any(r.get("log_level") == "debug" for r in records)
    for p in parties:
        ints += [p.key_share.secret, p.alpha_share, p.alpha_randomness]
    for w in witnesses:
        ints += [t.plaintext for row in w.A for t in row] + [
            t.randomness for row in w.A for t in row
        ]
        ints += [t.plaintext for t in w.b] + [t.randomness for t in w.b]
    assert len(witnesses) == PARTIES and len(parties) >= PARTIES
    text = "\n".join(
        [json.dumps(r, default=repr, sort_keys=True) for r in records]
        + [f"{r.name} {r.levelname} {r.getMessage()} {r.__dict__!r}" for r in caplog.records]
        # the run record is written out by the CLI next to the model: it must be clean too
        + [json.dumps(result.record, default=repr) for result in run.results.values()]
    )
    found = leaks(text, ints, floats)
    assert not found, f"{len(found)} secret(s) logged, e.g. {found[:5]}"
