"""A table's columns as a conditional model is trained on them: in the codec's coding order, each
as the codec quantises it at the bounds it will be coded with.

The model's order puts the integer columns first (they are coded losslessly and are every target's
context), then the float columns with an absolute or a relative bound, in the table's order except
that a relation's target (``tau21``, ``tau32``, ``lead_pt``: see
:data:`~hepsqueeze.codecs.bounded.table_coder.RELATIONS`) follows its inputs, so that the codec can
still code it from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from hepsqueeze.codecs.bounded.column_bound import BoundMode, ColumnBound
from hepsqueeze.codecs.bounded.column_coder import predicted_symbols, quantise
from hepsqueeze.codecs.bounded.table_coder import predict, relations_of
from hepsqueeze.errors import InputError
from hepsqueeze.models.conditional.model import Domain
from hepsqueeze.training.conditional import ColumnData


def model_order(
    columns: Mapping[str, npt.NDArray[Any]],
    bounds: Mapping[str, ColumnBound],
    event: str | None,
    integers_last: bool = False,
) -> list[str]:
    """The columns a model of ``columns`` covers, in coding order (``integers_last``: the integer
    columns after the float ones, as targets given them, instead of first, as contexts)."""
    ints = [n for n, v in columns.items() if n != event and v.dtype.kind in "iub"]
    floats = [
        n
        for n, v in columns.items()
        if v.dtype.kind == "f" and n in bounds and bounds[n].mode in (BoundMode.ABSOLUTE, BoundMode.RELATIVE)
    ]
    relations = relations_of({n: columns[n] for n in floats})
    order = [n for n in floats if n not in relations]
    for target, (_, *inputs) in relations.items():
        order.insert(max(order.index(i) for i in inputs) + 1, target)
    return order + ints if integers_last else ints + order


def model_columns(
    columns: Mapping[str, npt.NDArray[Any]],
    bounds: Mapping[str, ColumnBound],
    event: str | None,
    order: Sequence[str] | None = None,
    integer_targets: bool = False,
) -> list[ColumnData]:
    """The training data of a model of ``columns`` (``order``: default :func:`model_order`;
    ``integer_targets``: the integer columns are targets too, coded from the columns before them)."""
    names = list(order) if order is not None else model_order(columns, bounds, event, integer_targets)
    relations = relations_of({n: columns[n] for n in names if n in columns})
    decoded: dict[str, npt.NDArray[Any]] = {}
    out: list[ColumnData] = []
    for name in names:
        if name not in columns:
            raise InputError(f"column {name!r} of the model's order is not in the data")
        values = np.asarray(columns[name])
        if values.dtype.kind in "iub":
            arr = values.view(np.uint8) if values.dtype.kind == "b" else values
            exact = arr.astype(np.float64)
            if integer_targets and values.dtype.kind in "iu":
                out.append(ColumnData(name, Domain.INTEGER, exact, exact, 1.0, arr.astype(np.int64)))
            else:
                out.append(ColumnData(name, Domain.INTEGER, exact))
            continue
        bound = bounds[name]
        qz = quantise(values, bound)
        relative = bound.mode == BoundMode.RELATIVE
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            x = values.astype(np.float64)
            exact = np.log(np.abs(x)) if relative else x.copy()
        exact[qz.zero] = np.nan
        decoded[name] = qz.decoded
        # what the analytic coding codes: the symbols, or their difference from a relation's
        analytic = qz.q
        rel = relations.get(name)
        if rel is not None and all(r in decoded for r in rel[1:]):
            analytic = qz.q - predicted_symbols(predict(rel, decoded), qz.step, relative)
        domain = Domain.LOG if relative else Domain.LINEAR
        out.append(ColumnData(name, domain, qz.domain, exact, qz.step, analytic[~qz.zero]))
    return out


__all__ = ["model_columns", "model_order"]
