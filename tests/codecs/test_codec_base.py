"""The codec protocol's shared pieces: decoded values in a column's dtype, sections, the registry."""

from __future__ import annotations

import numpy as np
import pytest

from hepsqueeze.codecs.autoencoder.codec import AutoencoderCodec
from hepsqueeze.codecs.base import SectionData, as_column_dtype
from hepsqueeze.codecs.bounded.codec import BoundedJetCodec
from hepsqueeze.codecs.bounded.spec import parse_max_error
from hepsqueeze.codecs.registry import codec_class, codec_ids, get_codec, register_codec
from hepsqueeze.errors import InputError


def test_decoded_values_in_integer_and_bool_dtypes() -> None:
    v = np.array([-0.6, -0.4, 0.49, 0.51, 2.5, 3e12, -3e12, np.nan], dtype=np.float32)
    out = as_column_dtype(v, np.dtype(np.int32))
    assert out.dtype == np.int32
    # rounded to nearest (ties to even), clipped to the dtype's range, not truncated or wrapped
    assert out.tolist() == [-1, 0, 0, 1, 2, 2**31 - 1, -(2**31), 0]
    assert as_column_dtype(v[:4], np.dtype(np.uint8)).tolist() == [0, 0, 0, 1]
    assert as_column_dtype(v[:4], np.dtype(np.bool_)).tolist() == [False, False, False, True]
    big = as_column_dtype(np.array([1e30, -1e30]), np.dtype(np.int64))
    assert big.tolist() == [np.iinfo(np.int64).max - 1023, np.iinfo(np.int64).min]  # inside, not wrapped


def test_a_section_holds_an_array_or_bytes() -> None:
    with pytest.raises(ValueError, match="either an array or bytes"):
        SectionData("column", "x")
    with pytest.raises(ValueError, match="either an array or bytes"):
        SectionData("column", "x", array=np.zeros(2), data=b"ab")


def test_registry_maps_configs_back_to_their_codecs() -> None:
    assert {"autoencoder", "bounded-jets"} <= set(codec_ids())
    assert codec_class("autoencoder") is AutoencoderCodec
    bounded = BoundedJetCodec(parse_max_error("E=1e-2r,pt=1e-3r,eta=2e-3,phi=3e-3"))
    again = get_codec(bounded.get_config())
    assert isinstance(again, BoundedJetCodec)
    assert again.bounds == bounded.bounds
    ae = get_codec({"name": "autoencoder", "latent_dtype": "float16", "latent_dim": 3})
    assert isinstance(ae, AutoencoderCodec)
    assert (ae.model, ae.latent_dtype, ae.latent_dim) == (None, "float16", 3)
    with pytest.raises(
        InputError, match=r"unknown codec .zip. \(known: .*autoencoder, bounded, bounded-jets"
    ):
        get_codec({"name": "zip"})
    with pytest.raises(InputError, match="has no name"):
        get_codec({"latent_dtype": "float32"})
    with pytest.raises(InputError, match="not an object"):
        get_codec([])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="latent_dtype is missing or unknown"):
        get_codec({"name": "autoencoder"})
    assert register_codec(AutoencoderCodec) is AutoencoderCodec  # registering again is harmless

    class Impostor(BoundedJetCodec):
        codec_id = "autoencoder"

    with pytest.raises(ValueError, match="'autoencoder' is already registered"):
        register_codec(Impostor)
