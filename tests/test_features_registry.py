"""The extractor registry: one place names the families; the CLI and the dashboard derive from it."""

from __future__ import annotations

import pytest

from pamfn.cli import build_parser
from pamfn.errors import CheckpointError
from pamfn.features.lite import LITE_DIMS
from pamfn.features.pipeline import extractor_versions, make_extractor
from pamfn.features.registry import EXTRACTORS, extractor_family, extractor_for
from pamfn.model import PAMFNConfig


def test_the_cli_offers_every_family():
    parser = build_parser()
    args = parser.parse_args(["extract", "v.mp4", "-o", "out.npz", "--extractor", "pretrained"])
    assert args.extractor == "pretrained"
    for name in EXTRACTORS:
        assert parser.parse_args(["extract", "v.mp4", "-o", "o", "--extractor", name]).extractor == name
    with pytest.raises(SystemExit):
        parser.parse_args(["extract", "v.mp4", "-o", "o", "--extractor", "nope"])


def test_families_build_and_name_their_versions():
    assert make_extractor("lite").versions == extractor_versions("lite")
    with pytest.raises(ValueError, match="choose one of lite, pretrained"):
        extractor_family("nope")


def test_a_checkpoint_names_the_family_of_its_features():
    lite = PAMFNConfig(K=2, d=8, input_dims=dict(LITE_DIMS), feature_extractors=extractor_versions("lite"))
    assert extractor_for(lite) == "lite"
    assert extractor_for(lite.with_overrides(feature_extractors={})) == "lite"
    assert extractor_for(PAMFNConfig.preset("rg")) == "pretrained"
    with pytest.raises(CheckpointError, match="lite extractor makes"):
        extractor_for(lite.with_overrides(input_dims={"V": 3, "F": 3, "A": 3}))
