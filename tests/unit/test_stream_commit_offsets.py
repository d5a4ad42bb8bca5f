"""The committed offset never passes an offset that was not acknowledged (agents/faust_fixes.py).

Faust 0.15.3's own rule commits past a single unacknowledged offset at the head of a partition
(and past any when nothing was committed yet); these are the cases it got wrong.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import cast

import pytest
from faust.types import TP

from agents.faust_fixes import NoLossConsumer

TOPIC_PARTITION = TP("detoxmon.alerts.v1", 2)


def new_offset(committed: int | None, acked: list[int]) -> tuple[int | None, list[int]]:
    """The offset to commit, and the acknowledged offsets left for later."""
    state = SimpleNamespace(
        _committed_offset=defaultdict(lambda: None, {TOPIC_PARTITION: committed}),
        _acked=defaultdict(list, {TOPIC_PARTITION: list(acked)}),
        _acked_index=defaultdict(set, {TOPIC_PARTITION: set(acked)}),
    )
    offset = NoLossConsumer._new_offset(cast(NoLossConsumer, state), TOPIC_PARTITION)
    return offset, state._acked[TOPIC_PARTITION]


@pytest.mark.parametrize(
    ("committed", "acked", "expected"),
    [
        (13, [13, 14, 15], (16, [])),  # a contiguous run from the committed offset
        (13, [15, 13, 14, 17], (16, [17])),  # up to the first hole
        (13, [14, 15], (None, [14, 15])),  # 13 unacknowledged: faust committed 16
        (0, [1, 2], (None, [1, 2])),  # offset 0 unacknowledged: faust committed 3
        (None, [0, 1], (None, [0, 1])),  # no base known yet (before the seek)
        (13, [], (None, [])),
    ],
)
def test_commit_only_over_acknowledged_offsets(
    committed: int | None, acked: list[int], expected: tuple[int | None, list[int]]
) -> None:
    assert new_offset(committed, acked) == expected
