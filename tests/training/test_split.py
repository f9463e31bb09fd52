from __future__ import annotations

import numpy as np

from hepsqueeze.training import split_rows


def test_split_is_a_seeded_partition() -> None:
    s = split_rows(1000, 0.1, 0.1, seed=4)
    allrows = np.concatenate([s.train, s.val, s.test])
    assert sorted(allrows.tolist()) == list(range(1000))
    assert (s.val.size, s.test.size) == (100, 100)
    s2 = split_rows(1000, 0.1, 0.1, seed=4)
    assert np.array_equal(s.test, s2.test)
    assert not np.array_equal(s.test, split_rows(1000, 0.1, 0.1, seed=5).test)
