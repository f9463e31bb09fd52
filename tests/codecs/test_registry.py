"""Every codec's config round-trips through the registry, as numcodecs' tests check theirs."""

from __future__ import annotations

from typing import Any

import pytest

from hepsqueeze.codecs.autoencoder.codec import AutoencoderCodec
from hepsqueeze.codecs.base import Codec
from hepsqueeze.codecs.bounded.codec import BoundedJetCodec
from hepsqueeze.codecs.bounded.spec import parse_max_error
from hepsqueeze.codecs.registry import BUILTIN_CODECS, codec_class, codec_ids, get_codec, register_codec
from hepsqueeze.errors import InputError


def _codecs(model: Any) -> list[Codec]:
    return [
        BoundedJetCodec(parse_max_error("1e-3")),
        BoundedJetCodec(
            parse_max_error("E=2e-3r,pt=1e-3r,eta=1e-3,phi=5e-4", "0.01"), "evt", event_runs=False
        ),
        AutoencoderCodec(model),
        AutoencoderCodec(model, "float16", embed_model=False),
    ]


def test_configs_round_trip(model: Any) -> None:
    for codec in _codecs(model):
        config = codec.get_config()
        assert config["name"] == codec.codec_id
        back = get_codec(config)
        assert type(back) is type(codec)
        assert back.get_config() == config


def test_builtin_ids_resolve() -> None:
    assert codec_ids() == sorted(BUILTIN_CODECS)
    for codec_id in BUILTIN_CODECS:
        assert codec_class(codec_id).codec_id == codec_id


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"name": "zfp"}, "unknown codec 'zfp'"),
        ({}, "no name"),
        ({"name": "autoencoder", "latent_dtype": "int8"}, "latent_dtype"),
        ({"name": "autoencoder", "latent_dtype": "float32", "latent_dim": 0}, "latent_dim"),
        ({"name": "bounded-jets", "bounds": {}, "event_column": None, "event_runs": False}, "bounds"),
        ({"name": "bounded-jets", "bounds": {}, "event_column": None, "event_runs": True}, "event_runs"),
    ],
)
def test_bad_configs_are_refused(config: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        get_codec(config)


def test_register_refuses_a_second_class_for_an_id() -> None:
    class Impostor(BoundedJetCodec):
        pass

    register_codec(BoundedJetCodec)  # the same class again is fine
    with pytest.raises(ValueError, match="already registered"):
        register_codec(Impostor)
