"""Phase machines are sans-IO: driven by hand, and a missing transition is an abort."""

import numpy as np

from coopetition.engine.machine import (
    Abort,
    Broadcast,
    Compute,
    Computed,
    Done,
    Gather,
    Received,
    Started,
)
from coopetition.protocols.admm.machines import Coordinate, CoordinateState
from coopetition.protocols.admm.objective import Objective


def _coordinate():
    return Coordinate(
        party=0,
        parties=(0, 1),
        round=2,
        contribution=np.array([1.0, -4.0]),
        objective=Objective("lasso", lam=2.0),
        rho=1.0,
    )


def test_coordinate_by_hand_matches_soft_threshold():
    machine = _coordinate()
    actions = machine.handle(Started())
    assert isinstance(actions[0], Broadcast) and isinstance(actions[1], Gather)
    assert actions[1].consistent and actions[1].senders == (0, 1)
    actions = machine.handle(
        Received(tag="w_plus_u", messages={0: np.array([1.0, -4.0]), 1: np.array([3.0, 0.0])})
    )
    (compute,) = actions
    assert isinstance(compute, Compute)
    result = compute.fn(*compute.args)
    # mean = [2, -2]; kappa = lam / (rho m) = 1  →  [1, -1]
    np.testing.assert_allclose(result, [1.0, -1.0])
    (done,) = machine.handle(Computed(label=compute.label, result=result))
    assert isinstance(done, Done) and machine.state is CoordinateState.DONE


def test_unexpected_event_aborts_the_machine():
    machine = _coordinate()
    (abort,) = machine.handle(Computed(label="x", result=None))
    assert isinstance(abort, Abort)
    assert machine.state is CoordinateState.ABORTED
    assert "START" in abort.error.reason


def test_malformed_contribution_names_the_sender():
    machine = _coordinate()
    machine.handle(Started())
    (abort,) = machine.handle(
        Received(tag="w_plus_u", messages={0: np.array([1.0, -4.0]), 1: np.array([np.nan, 0.0])})
    )
    assert isinstance(abort, Abort) and abort.error.culprit == 1
