"""The issue-15 profiling tools: stack attribution, the py-spy window logic, the A/B shapes.

``sims.stack_attribution`` is checked on hand-written raw py-spy lines (what each kind of stack
must be charged to, and that the table's shares and CPU split add up); the ``Sampler`` of
``sims.helen_phase_profile`` on a scripted sequence of engine phase events (one window per
profiled phase: opened by the first party to enter, closed when the last one leaves); the
statement counts of ``sims.four_squares_ab`` against the formula of docs/benchmarks.md.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from coopetition.sims import four_squares_ab, helen_phase_profile
from coopetition.sims import stack_attribution as sa

WORKER = (
    "Thread._bootstrap (threading.py:1002);Thread.run (threading.py:982);"
    "_gil_free (engine/compute.py:106);coordinate_program (protocols/helen/coordinate_phase.py:118)"
)
LOOP = "PhaseDriver.run (engine/driver.py:176);unrolled_run (trio/_core/_run.py:2400)"
RAW = f"""\
{WORKER};verify (protocols/zk/range_proof.py:455);_batch_holds (protocols/zk/range_proof.py:474);_holds (protocols/zk/range_proof.py:415);multi_pow (protocols/zk/group.py:131) 30
{WORKER};prove (protocols/zk/range_proof.py:140);_prove_unchecked (protocols/zk/range_proof.py:200);_start (protocols/zk/range_proof.py:110) 5
{WORKER};prove (protocols/zk/range_proof.py:140);_prove_unchecked.<locals>.<listcomp> (protocols/zk/range_proof.py:236);RingPedersen.commit (protocols/zk/range_params.py:91);FixedBaseTable.pow (protocols/paillier/encryptor.py:107) 50
{WORKER};prove (protocols/zk/range_proof.py:140);four_squares (protocols/zk/range_squares.py:95) 5
{WORKER};trunc_pr (protocols/spdz/online.py:300);mul (protocols/spdz/field.py:50) 4
{WORKER} 2
{LOOP};Bus.record_own (engine/bus.py:104);dumps (cbor2/encoder.py:10) 3
{LOOP} 1
Thread._bootstrap (threading.py:1002);_worker (concurrent/futures/thread.py:83) 6
_run_module_as_main (<frozen runpy>:198);run (trio/_core/_run.py:2200) 7
garbage line without a count
"""


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    path = tmp_path / "phase.raw"
    path.write_text(RAW)
    return path


def test_stacks_go_to_their_innermost_component(raw: Path) -> None:
    stacks = sa.read_raw(raw)
    assert sum(stacks.values()) == 113  # the line without a count is skipped
    parts = sa.attribute(stacks)
    assert parts == Counter(
        {
            "range proofs: made": 55,  # _start is a shared helper: charged to the prove above
            "range proofs: verified": 30,  # multi_pow is unlisted: charged to its caller
            "range proofs: four-square decompositions": 5,
            "SPDZ online: field and share arithmetic": 4,
            "engine: CBOR and wire frames": 3,
            "Helen coordinate/verify program (other)": 2,
            "engine: driver and machines": 1,
            sa.OTHER_WORKER: 6,
            sa.OTHER_LOOP: 7,
        }
    )


def test_frames_keep_names_with_dots_and_brackets() -> None:
    frames = sa.frames("_prove_unchecked.<locals>.<listcomp> (protocols/zk/range_proof.py:236)")
    assert frames == [("_prove_unchecked.<locals>.<listcomp>", "protocols/zk/range_proof.py")]


def test_table_shares_and_cpu_add_up(raw: Path) -> None:
    rows = sa.table(sa.read_raw(raw), cpu_seconds=50.0, e=0.01)
    assert rows[0]["component"] == "range proofs: made"
    assert sum(float(r["share"]) for r in rows) == pytest.approx(1.0)
    assert sum(float(r["cpu_seconds"]) for r in rows) == pytest.approx(50.0)
    assert float(rows[0]["E"]) == pytest.approx(50.0 * 55 / 113 / 0.01)


def test_sampler_opens_one_window_per_phase(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log: list[tuple[str, str]] = []
    sampler = helen_phase_profile.Sampler(3, tmp_path, 50, "py-spy")

    def start(phase: str) -> None:
        log.append(("start", phase))
        sampler.proc[phase] = None

    monkeypatch.setattr(sampler, "_start", start)
    monkeypatch.setattr(sampler, "_stop", lambda phase: log.append(("stop", phase)))
    events = [
        (0, "helen-local", 1, "start"),
        (0, "helen-coordinate", 1, "start"),
        (1, "helen-coordinate", 1, "start"),
        (0, "helen-coordinate", 1, "end"),
        (2, "helen-coordinate", 1, "start"),
        (1, "helen-coordinate", 1, "end"),
        (2, "helen-coordinate", 1, "end"),
        (0, "helen-verify", 0, "start"),
        (1, "helen-verify", 0, "start"),
        (2, "helen-verify", 0, "start"),
        (2, "helen-verify", 0, "end"),
        (0, "helen-verify", 0, "end"),
        (1, "helen-verify", 0, "end"),
    ]
    for event in events:
        sampler(*event)
    assert log == [
        ("start", "helen-coordinate"),
        ("stop", "helen-coordinate"),  # only after the last of the 3 parties left
        ("start", "helen-verify"),
        ("stop", "helen-verify"),
    ]


def test_ab_counts_one_partys_statements() -> None:
    m, d = 3, 2
    shapes = four_squares_ab.widths(m, d, rows=50)
    # coordinate: masks r, s and shares b, c for m d values forward, shares b, c for (m + 1) d back
    assert len(shapes["coordinate"]) == 4 * m * d + 2 * (m + 1) * d
    # verify: Gadget 4's masks r, r', one each (one random combination of every value)
    assert len(shapes["verify"]) == 2
    values = four_squares_ab.gaps(shapes["coordinate"])
    assert all(0 <= v <= h * h for v, h in zip(values, shapes["coordinate"], strict=True))


@pytest.mark.skipif(
    helen_phase_profile.shutil.which("py-spy") is None
    and not (Path(helen_phase_profile.sys.executable).parent / "py-spy").exists(),
    reason="py-spy comes with the bench extra",
)
def test_profile_smoke_run_writes_both_windows(tmp_path: Path) -> None:
    """A real (INSECURE 1024-bit, m = 2, d = 2) run: py-spy attaches once per profiled phase,
    writes a non-empty raw file for each, and the run record names both windows."""
    args = ["--parties", "2", "--features", "2", "--rows", "30", "--key-bits", "1024"]
    result = helen_phase_profile.main([*args, "--out-dir", str(tmp_path)])
    assert set(result["windows"]) == set(helen_phase_profile.PROFILED)
    for phase, window in result["windows"].items():
        assert window["cpu_seconds"] > 0 and window["E_seconds_end"] > 0
        stacks = sa.read_raw(tmp_path / f"{phase}.raw")
        assert sum(stacks.values()) > 0
    assert (tmp_path / "run.json").exists()
