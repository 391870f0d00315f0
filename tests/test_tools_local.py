"""The offline providers with their real models: RapidOCR and EfficientNet-Lite0 tags."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont

from i2cr.context import CLUE_TOOLS, Context
from i2cr.context.kinds import CLUE_PROVIDERS
from i2cr.tools import PROVIDERS, get_clue_tool
from i2cr.tools.choice import AUTO, provider_for_input
from i2cr.tools.imagenet_tags import imagenet_labels, load_efficientnet_lite0, top_labels
from i2cr.tools.rapidocr import ocr_lines

SAMPLES = Path(matplotlib.get_data_path()) / "sample_data"


def test_ocr_lines_keep_confident_lines_with_letters_or_digits_once():
    texts = ["***", "COMO HOPPER", "K", "贝", "COMO HOPPER", "42"]
    scores = [0.93, 0.99, 0.61, 0.53, 0.97, 0.8]
    assert ocr_lines(texts, scores) == ["COMO HOPPER", "K", "42"]
    assert ocr_lines(None, None) == []


def test_rapidocr_reads_rendered_text(tmp_path):
    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), 48)
    image = Image.new("RGB", (520, 110), "white")
    ImageDraw.Draw(image).text((20, 25), "Grace Hopper 1906", font=font, fill="black")
    path = tmp_path / "text.png"
    image.save(path)
    assert get_clue_tool("ocr", "rapidocr").invoke({"image": str(path)}) == "Grace Hopper 1906"


def test_rapidocr_reads_the_matplotlib_logo():
    text = get_clue_tool("ocr", "rapidocr").invoke({"image": str(SAMPLES / "logo2.png")})
    assert text.lower().startswith("matp") and text.lower().endswith("lib")


def test_rapidocr_on_an_image_without_text_is_empty():
    assert (
        get_clue_tool("ocr", "rapidocr").invoke(
            {"image": str(SAMPLES / "Minduka_Present_Blue_Pack.png")}
        )
        == ""
    )


def test_efficientnet_weights_load_strictly_into_timm_lite0():
    model, transform = load_efficientnet_lite0()  # load_state_dict is strict: every key renamed
    assert model.classifier.out_features == len(imagenet_labels()) == 1000
    assert imagenet_labels()[652] == "military uniform"


def test_top_labels_cut_and_order():
    labels = ["a", "b", "c", "d"]
    assert top_labels([0.1, 0.5, 0.02, 0.3], labels, min_score=0.05) == ["b", "d", "a"]
    assert top_labels([0.1, 0.5, 0.02, 0.3], labels, min_score=0.05, most=2) == ["b", "d"]
    assert top_labels([0.25] * 4, labels, min_score=0.9) == []


def test_efficientnet_tags_a_portrait_in_uniform():
    text = get_clue_tool("tags", "efficientnet").invoke(
        {"image": str(SAMPLES / "grace_hopper.jpg")}
    )
    tags = text.split("; ")
    assert {"military uniform", "academic gown", "mortarboard"} & set(tags[:3])


@pytest.mark.parametrize(
    ("kind", "provider"),
    [("tags", "rapidocr"), ("ocr", "efficientnet"), ("caption", "efficientnet")],
)
def test_provider_refuses_a_kind_it_does_not_make(kind, provider):
    with pytest.raises(ValueError, match=f"clue provider '{provider}' makes"):
        get_clue_tool(kind, provider)


def test_unknown_provider_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown clue provider 'tesseract'.*rapidocr"):
        get_clue_tool("ocr", "tesseract")


def test_the_setting_accepts_the_providers_the_tools_have():
    assert set(CLUE_PROVIDERS) == {*PROVIDERS, AUTO}
    for provider, kinds in CLUE_PROVIDERS.items():
        if provider != AUTO:
            assert all(get_clue_tool(kind, provider) for kind in kinds)


@pytest.mark.parametrize(
    ("settings", "carried", "expected"),
    [
        ({}, {"ocr": "STOP", "tags": ""}, ["carried", None, None, "efficientnet"]),
        ({}, {}, ["rapidocr", None, None, "efficientnet"]),
        ({"hub_models": "caption=./blip"}, {}, ["rapidocr", "hub", None, "efficientnet"]),
        ({"clue_providers": "auto,caption=azure"}, {}, ["rapidocr", "azure", None, "efficientnet"]),
        ({"clue_providers": "carried"}, {}, ["carried"] * 4),
    ],
)
def test_auto_takes_the_carried_clue_first_then_an_offline_model(settings, carried, expected):
    context = Context(**settings)
    providers = [provider_for_input(tool, context, carried) for tool in CLUE_TOOLS]
    assert providers == expected
