"""A trained compression model: network, normalisation, variable names and provenance, in one object.

Between the table's values and the normaliser sits the config's ``representation``: ``identity``, or
``mass`` (:mod:`hepsqueeze.models.four_vector`: the network works in m, pt, eta, phi while the model
takes and returns E, pt, eta, phi). :meth:`CompressionModel.normalise` and
:meth:`CompressionModel.denormalise` are the whole way from table values to the network's space and
back; :attr:`CompressionModel.variables` name the table's side, ``normaliser.variables`` (and
:attr:`CompressionModel.network_variables`) the network's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from hepsqueeze.errors import ColumnError, InputError, ModelError
from hepsqueeze.io.interpret import variable_of
from hepsqueeze.models import four_vector
from hepsqueeze.models.autoencoder import Autoencoder, AutoencoderConfig
from hepsqueeze.models.constants import EVAL_BATCH, LATENT_DTYPES
from hepsqueeze.preprocessing.normalisation import Normaliser


@dataclass
class CompressionModel:
    """A trained autoencoder with everything needed to apply it to physical data.

    ``variables`` are the model's variable names (e.g. ``E, pt, eta, phi``), ``columns`` the input
    column names it was trained on, mapped in order onto ``variables``. ``has_encoder`` is false for
    the decoder-only copy embedded in a compressed file. ``integer_variables`` (counts, labels,
    trained from integer columns) are rounded to the nearest integer when decoding.
    """

    network: Autoencoder
    normaliser: Normaliser
    variables: tuple[str, ...]
    columns: tuple[str, ...]
    name: str = "model"
    history: dict[str, list[float]] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    has_encoder: bool = True
    integer_variables: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.integer_variables = tuple(self.integer_variables)
        unknown = [v for v in self.integer_variables if v not in self.variables]
        if unknown:
            raise ModelError(f"model {self.name!r}: integer variables {unknown} are not among its variables")
        n = self.network.config.n_features
        if len(self.variables) != n or len(self.columns) != n or len(self.normaliser.variables) != n:
            raise ModelError(
                f"model {self.name!r} has {n} inputs but {len(self.variables)} variables, "
                f"{len(self.columns)} columns and {len(self.normaliser.variables)} normalised variables"
            )
        if self.representation != "identity":
            expected = four_vector.network_variables(self.representation, self.variables)
            if tuple(self.normaliser.variables) != expected:
                raise ModelError(
                    f"model {self.name!r}: the {self.representation} representation of "
                    f"{', '.join(self.variables)} needs a normaliser of {', '.join(expected)}, "
                    f"got {', '.join(self.normaliser.variables)}"
                )
        self.network.eval()

    @classmethod
    def untrained(
        cls,
        config: AutoencoderConfig,
        normalisation: str,
        variables: Sequence[str],
        columns: Sequence[str],
        x_train: npt.NDArray[Any],
        *,
        name: str = "model",
    ) -> CompressionModel:
        """A fresh model for training on the table values ``x_train`` (rows, variables): the
        normaliser fitted on them in the network's variables, the output constraints resolved
        against it (see :meth:`AutoencoderConfig.resolve`), the network newly initialised."""
        variables = tuple(variables)
        inner = four_vector.network_variables(config.representation, variables)
        xm = four_vector.to_network(config.representation, variables, np.asarray(x_train))
        normaliser = Normaliser.fit(normalisation, inner, xm)
        if not config.resolved:
            config = config.resolve(normaliser, normaliser.forward(xm))
        return cls(Autoencoder(config), normaliser, variables, tuple(columns), name=name)

    @property
    def representation(self) -> str:
        """How the variables reach the network: ``identity`` or ``mass`` (see the module docstring)."""
        return self.network.config.representation

    @property
    def network_variables(self) -> tuple[str, ...]:
        """The variables in the network's space (``m, pt, eta, phi`` for the mass representation)."""
        return tuple(self.normaliser.variables)

    def normalise(self, x: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """Table values ``(rows, vars)`` -> the network's normalised inputs, float32."""
        return self.normaliser.forward(four_vector.to_network(self.representation, self.variables, x))

    def denormalise(self, y: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """The network's normalised outputs ``(rows, vars)`` -> table values, float32."""
        return four_vector.from_network(self.representation, self.variables, self.normaliser.inverse(y))

    @property
    def config(self) -> AutoencoderConfig:
        return self.network.config

    @property
    def latent_dim(self) -> int:
        return self.network.config.latent_dim

    def validate_input(self, x: npt.NDArray[Any], columns: Sequence[str] | None = None) -> None:
        """Raise :class:`InputError` for arrays this model cannot compress (shape, NaN/inf, log domain)."""
        names = list(columns) if columns is not None else list(self.columns)
        if x.ndim != 2 or x.shape[1] != len(self.variables):
            raise InputError(
                f"model {self.name!r} expects (rows, {len(self.variables)}) values, got {x.shape}"
            )
        finite = np.isfinite(x)
        if not finite.all():
            j = int(np.nonzero(~finite.all(axis=0))[0][0])
            bad = int((~finite[:, j]).sum())
            row = int(np.nonzero(~finite[:, j])[0][0])
            raise InputError(
                f"column {names[j]!r} has {bad} NaN/inf values (first at row {row}); "
                "remove or fix them before compressing"
            )
        self.normaliser.check_domain(four_vector.to_network(self.representation, self.variables, x), names)

    @torch.no_grad()
    def encode(self, x: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """Physical values ``(N, F)`` -> latent codes float32 ``(N, latent)``."""
        if not self.has_encoder:
            raise ModelError(f"model {self.name!r} holds only the decoder; use the full model file to encode")
        data = np.asarray(x)
        self.validate_input(data)
        y = self.normalise(data)
        return self._batched(self.network.encode, y, self.latent_dim)

    @torch.no_grad()
    def decode(self, z: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """Latent codes ``(N, latent)`` -> physical values float32 ``(N, F)``.

        :attr:`integer_variables` come out rounded to the nearest integer.
        """
        codes = np.asarray(z, dtype=np.float32)
        if codes.ndim != 2 or codes.shape[1] != self.latent_dim:
            raise InputError(
                f"model {self.name!r} expects latents of shape (rows, {self.latent_dim}), got {codes.shape}"
            )
        y = self._batched(self.network.decode, codes, len(self.variables))
        x = self.denormalise(y)
        for name in self.integer_variables:
            j = self.variables.index(name)
            x[:, j] = np.rint(x[:, j])
        return x

    def reconstruct(self, x: npt.NDArray[Any], latent_dtype: str = "float32") -> npt.NDArray[np.float32]:
        """``decode(encode(x))``, with latents rounded to ``latent_dtype`` as the container stores them."""
        z = self.encode(x)
        return self.decode(quantise_latents(z, latent_dtype))

    def _batched(self, fn: Any, data: npt.NDArray[np.float32], width: int) -> npt.NDArray[np.float32]:
        self.network.eval()
        out = np.empty((data.shape[0], width), dtype=np.float32)
        device = next(self.network.parameters()).device
        for start in range(0, data.shape[0], EVAL_BATCH):
            batch = torch.from_numpy(np.ascontiguousarray(data[start : start + EVAL_BATCH])).to(device)
            out[start : start + batch.shape[0]] = fn(batch).cpu().numpy()
        return out

    def column_mapping(
        self, available: Sequence[str], columns: Sequence[str] | None, where: str
    ) -> list[str]:
        """The input columns to compress: ``columns`` if given, else those the model was trained on.

        Raises :class:`ColumnError` when the count differs from the model's variables or a column is
        missing (naming the nearest).
        """
        from hepsqueeze.errors import missing_column_message

        chosen = list(columns) if columns else list(self.columns)
        if len(chosen) != len(self.variables):
            raise ColumnError(
                f"model {self.name!r} compresses {len(self.variables)} variables ({', '.join(self.variables)}) "
                f"but {len(chosen)} columns were given ({', '.join(chosen)})"
            )
        for c in chosen:
            if c not in available:
                msg = missing_column_message(c, available, where)
                if not columns:
                    msg += f"; model {self.name!r} was trained on columns {', '.join(self.columns)}: give the columns"
                raise ColumnError(msg, path=where, column=c, option=None if columns else "columns")
        return self._by_name(chosen, where) if columns else chosen

    def _by_name(self, chosen: list[str], where: str) -> list[str]:
        """``chosen`` in the order of the model's variables, matched by name: a column is the
        variable (or its training column) of the same name, optionally after a collection prefix
        (``Jet_pt``). Names that say nothing (``f0``, ``x``) keep their order; a column that names
        one variable but would land on another, or that names none while others do, is refused."""
        slots = [variable_of(c, self.variables, self.columns) for c in chosen]
        if all(s is None for s in slots):
            return chosen
        if None in slots or len(set(slots)) != len(slots):
            bad = next(c for c, s in zip(chosen, slots, strict=True) if s is None or slots.count(s) > 1)
            raise ColumnError(
                f"column {bad!r} of {where} does not name one variable of model {self.name!r} "
                f"({', '.join(self.variables)}; trained on {', '.join(self.columns)}): columns are matched "
                "by name, optionally after a collection prefix such as Jet_"
            )
        order = sorted(range(len(chosen)), key=lambda i: slots[i] or 0)
        return [chosen[i] for i in order]

    def summary(self) -> Mapping[str, Any]:
        """A JSON-able description: name, layer sizes, variables, parameters."""
        return {
            "name": self.name,
            "nodes": list(self.config.nodes),
            "variables": list(self.variables),
            "columns": list(self.columns),
            "normalisation": self.normaliser.scheme,
            **({"representation": self.representation} if self.representation != "identity" else {}),
            **(
                {"sampled": [self.network_variables[j] for j in self.config.sampled_outputs]}
                if self.config.sampled_outputs
                else {}
            ),
            "parameters": sum(p.numel() for p in self.network.parameters()),
            "decoder_parameters": sum(p.numel() for p in self.network.decoder.parameters()),
        }


def quantise_latents(z: npt.NDArray[np.float32], latent_dtype: str) -> npt.NDArray[np.float32]:
    """Round latent codes to the storage dtype and back to float32."""
    if latent_dtype not in LATENT_DTYPES:
        raise ModelError(f"unknown latent dtype {latent_dtype!r}; choose one of {', '.join(LATENT_DTYPES)}")
    if latent_dtype == "float32":
        return z
    return z.astype(np.float16).astype(np.float32)
