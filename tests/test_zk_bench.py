"""Smoke test of ``coopetition bench zk`` on an insecure key, and its exponentiation counts.

The expected counts are read off the protocols (see each module's docstring), not measured.
"""

from __future__ import annotations

import argparse
import json

from coopetition.sims import bench_zk


def test_bench_zk_smoke_and_counts(tmp_path):
    out = tmp_path / "bench_zk.json"
    parser = argparse.ArgumentParser()
    bench_zk.add_arguments(parser)
    args = parser.parse_args(
        [
            "--insecure-bits",
            "512",
            "--seconds",
            "0.01",
            "--batch",
            "4",
            "--dim",
            "2",
            "--out",
            str(out),
        ]
    )
    result = bench_zk.run(args)
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert result["insecure_small_key"] is True and result["bits"] == 512
    cost = {
        k[len("cost.") : -len(".modexp")]: v for k, v in result.items() if k.startswith("cost.")
    }
    assert cost["encrypt"] == {"full": 1}
    # PoPK: prover s^N and r^e; verifier w^N and c^e.
    assert cost["plaintext.prove"] == {"full": 1, "short": 1}
    assert cost["plaintext.verify"] == {"full": 1, "short": 1}
    # Multiplication: verifier z1^N, Eb^z, z2^N (full) and Ea^e, Ec^e (short).
    assert cost["multiplication.verify"] == {"full": 3, "short": 2}
    assert cost["multiplication.prove"]["full"] == 3
    assert cost["equality.verify"] == {"full": 1, "short": 2}
    # Interval: one N-th power per repetition; batched verification needs one in all.
    assert cost["interval.prove"] == {"full": 128}
    assert cost["interval.verify_unbatched"] == {"full": 128}
    assert cost["interval.verify"]["full"] == 1
    # A batch of 4 plaintext proofs: one N-th power for all of them.
    assert cost["plaintext.verify_batch"]["full"] == 0.25
    for key, value in result.items():
        if key.startswith(("rate.", "ratio.")):
            assert value > 0, key
