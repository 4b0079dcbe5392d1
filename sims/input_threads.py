"""In-process parties' input proofs in worker threads: what releasing the GIL costs.

``coopetition bench helen`` and the Fig. 3 sweep run all m parties in one process, each party's
proof steps in a worker thread with gmpy2 releasing the GIL (``engine.compute.ThreadCompute``).
This tool makes m parties' ``input_proof.prove`` (each with range proofs for the m - 1 others)
three ways in one process, at one d:

* ``sequential``: one after another on this thread (the work itself);
* ``threads, GIL released``: m threads at once through the engine's own wrapper, with
  ``zk.gil.HOLD_GIL`` off (the code before issue 15's input profile);
* ``threads, GIL held``: the same with ``HOLD_GIL`` on (the proof functions keep the GIL).

It reports each way's process CPU (user + system, ``getrusage``), wall, and voluntary and
involuntary context switches, and the CPU ratios to the sequential run (JSON only with ``--out``). Counts of switches and
the CPU ratio are what to read: wall depends on what else the machine runs. INSECURE sizes
(``--key-bits`` 1024, ``--ring-bits`` 512 by default, as the sweep).

Run: ``nice -n 19 python -m coopetition.sims.input_threads --features 12``.
"""

from __future__ import annotations

import argparse
import json
import resource
import threading
import time
from typing import Any

from coopetition.engine.compute import _gil_free
from coopetition.protocols.helen import input_phase, input_proof, numerics
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import insecure_test_keypair
from coopetition.protocols.zk import gil
from coopetition.protocols.zk import range_params as rpm
from coopetition.sims.bench_helen import synthetic
from coopetition.sims.benchkit import git_commit
from coopetition.sims.input_profile import scales_for

WAYS = ("sequential", "threads, GIL released", "threads, GIL held")


def _usage() -> tuple[float, float, int, int]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime, r.ru_nvcsw, r.ru_nivcsw


def measure(args: argparse.Namespace) -> dict[str, Any]:
    m, d = args.parties, args.features
    pk, _ = insecure_test_keypair(args.key_bits)
    ring = {j: rpm.generate(args.ring_bits, insecure_allow_small=True)[0] for j in range(m)}
    parts, _ = synthetic(m, d, args.rows, args.seed)
    scales = scales_for(d, args.rows, m, args.x_bound, args.y_bound)
    encryptor = Encryptor(pk).warm_up()
    preps = [numerics.prepare_input(X, y, scales) for X, y in parts]
    for params in ring.values():  # build the fixed-base tables before anything is timed
        params.commit(1, 1)

    def party(i: int) -> None:
        verifiers = {j: ring[j] for j in range(m) if j != i}
        ctx = input_phase.context(b"input-threads", i)
        input_proof.prove(pk, preps[i], scales, ctx, verifiers, encryptor=encryptor)

    out: dict[str, Any] = {}
    for way in WAYS:
        gil.HOLD_GIL = way != "threads, GIL released"
        try:
            before, wall = _usage(), time.monotonic()
            if way == "sequential":
                for i in range(m):
                    party(i)
            else:
                threads = [threading.Thread(target=_gil_free, args=(party, i)) for i in range(m)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            after = _usage()
        finally:
            gil.HOLD_GIL = True
        user, system = after[0] - before[0], after[1] - before[1]
        out[way] = {
            "cpu_seconds": user + system,
            "system_seconds": system,
            "wall_seconds": time.monotonic() - wall,
            "voluntary_switches": after[2] - before[2],
            "involuntary_switches": after[3] - before[3],
        }
    base = out["sequential"]["cpu_seconds"]
    for way in WAYS:
        out[way]["cpu_ratio_to_sequential"] = out[way]["cpu_seconds"] / base
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--features", type=int, default=12, help="d")
    parser.add_argument("--parties", type=int, default=4, help="m (threads)")
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--key-bits", type=int, default=1024, help="INSECURE test key size")
    parser.add_argument("--ring-bits", type=int, default=512, help="INSECURE N~ size")
    parser.add_argument("--x-bound", type=float, default=4.0)
    parser.add_argument("--y-bound", type=float, default=32.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write JSON here (nothing else)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.parties < 2:
        raise SystemExit("--parties must be at least 2")
    if args.key_bits >= 2048 or args.ring_bits >= 2048:
        raise SystemExit("this tool uses INSECURE test sizes below 2048 bits only")
    ways = measure(args)
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[:3]
    result = {"commit": git_commit(("protocols", "sims")), "args": vars(args), "load": load}
    result["ways"] = ways
    for way, f in ways.items():
        print(
            f"{way}: CPU {f['cpu_seconds']:.1f} s (system {f['system_seconds']:.1f}), "
            f"x{f['cpu_ratio_to_sequential']:.2f} of sequential, wall {f['wall_seconds']:.1f} s, "
            f"{f['voluntary_switches']} voluntary / {f['involuntary_switches']} involuntary switches"
        )
    print(f"load average {' '.join(load)}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_arguments(parser)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
