"""The exception frame contract both flows share: columns, order, dtypes, index (warehouse tables use them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sage_paytrace_pipeline.domain.exceptions import ExceptionFrames
from sage_paytrace_pipeline.domain.matching.exceptions import TRANSACTION_EXCEPTIONS, make_exceptions
from sage_paytrace_pipeline.domain.settlement.frames import BATCH_EXCEPTIONS

KITS = [TRANSACTION_EXCEPTIONS, BATCH_EXCEPTIONS]


def _contract(frame: pd.DataFrame, kit: ExceptionFrames) -> None:
    assert tuple(frame.columns) == ("kind", "severity", kit.key, "source_ids", "problem", "action")
    assert [str(dtype) for dtype in frame.dtypes] == ["object", "object", "Int64", "object", "object", "object"]
    assert isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0


@pytest.mark.parametrize("kit", KITS, ids=lambda kit: kit.key)
def test_every_way_of_building_gives_the_contract(kit):
    rows = kit.rows("late", "warning", np.array([7, 8]), source_ids=["a", "b"], problem="p",
                    action=pd.Series(["x", "y"]))
    _contract(rows, kit)
    assert rows.to_dict("list") == {"kind": ["late", "late"], "severity": ["warning"] * 2, kit.key: [7, 8],
                                    "source_ids": ["a", "b"], "problem": ["p", "p"], "action": ["x", "y"]}
    for frame in (kit.empty(), kit.concat([]), kit.concat([kit.empty(), rows, rows]),
                  kit.typed(rows.iloc[::-1].astype(object)), kit.rows("k", "info", None, size=2, source_ids="",
                                                                        problem="", action="")):
        _contract(frame, kit)
    assert kit.rows("k", "info", None, size=2, source_ids="", problem="", action="")[kit.key].isna().all()


def test_unknown_severity_and_misaligned_text_are_refused():
    with pytest.raises(ValueError, match="severity"):
        BATCH_EXCEPTIONS.rows("k", "fatal", [1], source_ids="", problem="", action="")
    with pytest.raises(ValueError, match="expected 1"):
        BATCH_EXCEPTIONS.rows("k", "info", [1], source_ids=["a", "b"], problem="", action="")


def test_make_exceptions_aligns_text_to_the_ids_by_label():
    ids = pd.Series([11, 12], index=[5, 3])
    frame = make_exceptions("k", "error", ids, source_ids=pd.Series({3: "three", 5: "five"}), problem="p", action="a")
    _contract(frame, TRANSACTION_EXCEPTIONS)
    assert frame["source_ids"].tolist() == ["five", "three"]


@pytest.mark.parametrize("kit", KITS, ids=lambda kit: kit.key)
def test_no_rows_is_the_built_empty_frame_and_a_new_one_each_time(kit):
    built = kit._built("none", "info", None, 0, source_ids=[], problem=[], action=[])
    first = kit.rows("late", "error", [], source_ids=[], problem="p", action="a")
    pd.testing.assert_frame_equal(first, built)
    pd.testing.assert_frame_equal(kit.rows("k", "info", None, size=0, source_ids="", problem="", action=""), built)
    first["extra"] = 1  # a caller changing its frame does not change the next one
    pd.testing.assert_frame_equal(kit.empty(), built)
    with pytest.raises(ValueError, match="expected 0"):
        kit.rows("k", "info", [], source_ids=["a"], problem="", action="")
