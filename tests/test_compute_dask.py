"""A party's bulk exponentiations on a Dask cluster (``[compute] backend = "dask"``, issue 15).

The test starts its own ``distributed.LocalCluster`` (2 worker processes, 1 thread each, no
dashboard) and sends ``paillier.parallel``'s list exponentiations to it. References are
independent of the code under test: Python's built-in ``pow`` for the exponentiations, the
plaintexts that were encrypted for the threshold decryption, plaintext ADMM for Helen.
INSECURE keys (named so): 1024-bit Paillier made through the insecure test option.
"""

from __future__ import annotations

import math
import secrets
import socket

import gmpy2
import pytest
from test_bad_inputs import _one_line_error, _session
from test_helen_per_party import assert_matches_plaintext_admm
from test_helen_run import PARTIES, ROWS, insecure_config, wine_parts

from coopetition.engine.errors import ConfigError
from coopetition.main import main
from coopetition.protocols.admm.objective import Objective
from coopetition.protocols.helen.local_run import train_locally
from coopetition.protocols.paillier import parallel, pools
from coopetition.protocols.paillier.encryptor import Encryptor
from coopetition.protocols.paillier.keys import generate_keypair
from coopetition.protocols.paillier.threshold import (
    TrustedDealerKeyGeneration,
    combine,
    partial_decrypt,
)
from coopetition.protocols.zk.transcript import ProofContext

distributed = pytest.importorskip("distributed")  # in the test extra: CI installs it


class Counting:
    """Wraps a pool and counts the chunks it was handed (proof the cluster did the work)."""

    def __init__(self, pool: parallel.Pool) -> None:
        self.pool, self.chunks = pool, 0
        self.name, self.width, self.min_items = pool.name, pool.width, pool.min_items

    def submit(self, fn, *args):  # type: ignore[no-untyped-def]
        self.chunks += 1
        return self.pool.submit(fn, *args)

    def close(self) -> None:
        self.pool.close()


@pytest.fixture(scope="module")
def scheduler():
    """A local cluster of 2 worker processes, started and stopped by this module."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def dask_pool(scheduler):
    with pools.open_pool("dask", scheduler) as pool:
        counting = Counting(pool)
        with parallel.pool_in_use(counting):
            yield counting


def test_list_exponentiations_on_the_cluster_equal_pow(dask_pool):
    assert dask_pool.width == 2  # the cluster's 2 worker threads
    n2 = secrets.randbits(2048) | (1 << 2047) | 1
    # units only: a random odd n2 has small factors, and a negative exponent needs an inverse
    bases = [b for b in (secrets.randbelow(n2) for _ in range(200)) if math.gcd(b, n2) == 1][:9]
    exps = [secrets.randbits(1024) for _ in range(9)]
    e = secrets.randbits(1024)
    assert parallel.powmod_base_list(bases, e, n2) == [pow(b, e, n2) for b in bases]
    assert parallel.powmod_exp_list(bases[0], exps, n2) == [pow(bases[0], x, n2) for x in exps]
    signed = [x if i % 2 else -x for i, x in enumerate(exps)]
    got = parallel.powmod_pairs(bases, signed, n2)
    assert got == [pow(b, x, n2) for b, x in zip(bases, signed, strict=True)]
    assert dask_pool.chunks == 6  # three lists, two chunks each, all sent to the cluster
    # below min_items a list runs on the calling thread
    assert parallel.powmod_base_list(bases[:3], e, n2) == [pow(b, e, n2) for b in bases[:3]]
    assert dask_pool.chunks == 6


def test_threshold_decryption_shares_on_the_cluster_equal_the_threads(dask_pool):
    """A Helen piece: the parties' decryption shares (the key share is the exponent)."""
    keypair = generate_keypair(1024, insecure_allow_small=True)
    dealer = TrustedDealerKeyGeneration(2, 1024, insecure_allow_small=True, keypair=keypair)
    shares = dealer.key_shares()
    pk = shares[0].threshold_public.public
    plain = [secrets.randbelow(2**60) - 2**59 for _ in range(6)]
    enc = Encryptor(pk)
    cts = [enc.encrypt(m) for m in plain]
    ctx = ProofContext(b"dask-test", "decrypt", 0, 0)
    on_cluster = {
        s.party: partial_decrypt(s, cts, ProofContext(b"dask-test", "decrypt", 0, s.party))
        for s in shares
    }
    assert dask_pool.chunks >= 4
    with parallel.pool_in_use(parallel.ThreadPool(2)):
        on_threads = {
            s.party: partial_decrypt(s, cts, ProofContext(b"dask-test", "decrypt", 0, s.party))
            for s in shares
        }
    for party in on_cluster:  # decryption shares are deterministic; proofs are not
        assert on_cluster[party].values == on_threads[party].values
    assert combine(shares[0].threshold_public, on_cluster, cts, ctx) == plain


async def test_a_short_helen_run_with_the_dask_backend_matches_plaintext_admm(dask_pool):
    """2 parties, 1 feature, 1 iteration, INSECURE 1024-bit key, dealer preprocessing."""
    features, parties = (10,), 2
    parts = wine_parts(features, parties=parties)
    config = insecure_config(Objective("lasso", lam=0.02 * PARTIES * ROWS), iterations=1)
    run = await train_locally(parts, config, session=b"helen-on-dask")
    assert_matches_plaintext_admm(run, parts, config)
    assert dask_pool.chunks > 0  # the run's exponentiation lists went to the cluster


def test_a_failed_chunk_leaves_no_number_in_the_worker_logs(dask_pool):
    """Dask logs a failed task's arguments: they are sealed, so the exponent never shows."""
    secret = secrets.randbits(1024) | (1 << 1023)
    future = dask_pool.submit(parallel.timed_chunk, gmpy2.powmod_base_list, [secret], secret, 0)
    with pytest.raises(ValueError, match="'mod' must be > 0"):
        future.result()
    client = dask_pool.pool.client
    logs = "\n".join(line for lines in client.get_worker_logs().values() for _, line in lines)
    assert "Compute Failed" in logs or "sealed" in logs, logs[-2000:]  # the failure was logged
    for text in (str(secret), hex(secret)[2:], str(secret)[:40]):
        assert text not in logs


def _executed(client) -> int:  # type: ignore[no-untyped-def]
    """Tasks the cluster's workers have run so far."""
    counts = client.run(lambda dask_worker: dask_worker.state.executed_count)
    return sum(counts.values())


@pytest.mark.long
@pytest.mark.processes
def test_helen_party_over_tcp_with_the_dask_backend(tmp_path, scheduler):
    """Three ``coopetition party`` processes; party 0's file says backend = "dask"."""
    from helen_hosts import make_hosts, run_parties, write_secret
    from test_helen_tcp import FEATURES, assert_matches_admm, config, helen_table

    from coopetition.protocols.helen.local_run import dealer_key
    from coopetition.protocols.paillier.serialize import encode_key_share

    parts = wine_parts(FEATURES)
    hosts = make_hosts(tmp_path, parts, helen_table(), key_share=True)
    dealer = dealer_key(PARTIES, config())
    for i, host in enumerate(hosts):
        write_secret(host / f"party{i}.share", encode_key_share(dealer.key_share(i)))
    party0 = hosts[0] / "party0.toml"
    party0.write_text(
        party0.read_text() + f'\n[compute]\nbackend = "dask"\nscheduler = "{scheduler}"\n'
    )
    with distributed.Client(scheduler, set_as_default=False) as client:
        before = _executed(client)
        outcomes = run_parties(hosts)
        ran = _executed(client) - before
    assert_matches_admm(outcomes, parts)
    assert ran > 0  # party 0's exponentiation lists ran on the cluster


def _dead_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{sock.getsockname()[1]}"


def test_bad_compute_settings_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="backend must be one of threads, processes, dask"):
        pools.pool_from_config("gpu")
    with pytest.raises(ConfigError, match="needs scheduler"):
        pools.pool_from_config("dask")
    with pytest.raises(ConfigError, match="scheduler is for backend = 'dask'"):
        pools.pool_from_config("threads", "tcp://127.0.0.1:8786")
    with pytest.raises(ConfigError, match="is unreachable") as caught:
        pools.pool_from_config("dask", _dead_address(), timeout=1.0)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('backend = "gpu"', "[compute] backend: expected one of 'threads', 'processes', 'dask'"),
        ('backend = "dask"', "scheduler = 'tcp://host:port' goes with backend = 'dask'"),
        ("DEAD", "is unreachable"),
    ],
)
def test_party_cli_refuses_a_bad_compute_table(tmp_path, capsys, table, expected):
    config = _session(tmp_path, capsys)
    if table == "DEAD":
        table = f'backend = "dask"\nscheduler = "{_dead_address()}"\nconnect = 1.0'
    config.write_text(config.read_text() + f"[compute]\n{table}\n")
    line = _one_line_error(capsys, main(["party", "--config", str(config)]))
    assert expected in line
    assert str(config) in line


def test_the_sealed_arguments_show_no_number():
    secret = 2**1000 + 12345
    sealed = pools.Sealed((secret, [secret], secret))
    assert str(secret) not in repr(sealed) and "12345" not in str(sealed)
    assert pools.run_sealed(lambda a, b, c: a + b[0] + c, sealed) == 3 * secret


def test_the_processes_backend_computes_the_same_lists():
    n2 = secrets.randbits(1024) | (1 << 1023) | 1
    bases = [secrets.randbelow(n2) for _ in range(4)]
    e = secrets.randbits(512)
    with pools.open_pool("processes") as pool:
        assert pool.name == "processes" and parallel.current_pool() is pool
        assert parallel.powmod_base_list(bases, e, n2) == [pow(b, e, n2) for b in bases]
    assert parallel.current_pool().name == "threads"  # the default is back
