from pathlib import Path

from i2cr.evals.cache import adapter_fingerprint
from i2cr.finetune import SMOLLM2_WIKIMEL_ADAPTER
from i2cr.models.adapters import resolve_adapter


def test_a_shipped_adapter_is_found_by_its_bare_name():
    assert Path(resolve_adapter("smollm2-wikimel")) == SMOLLM2_WIKIMEL_ADAPTER
    assert (SMOLLM2_WIKIMEL_ADAPTER / "adapter_config.json").is_file()


def test_other_specs_pass_through(tmp_path, monkeypatch):
    assert resolve_adapter("") == ""
    assert resolve_adapter("someone/llama3-mel-lora") == "someone/llama3-mel-lora"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "smollm2-wikimel").mkdir()  # a local folder of the same name wins
    assert resolve_adapter("smollm2-wikimel") == "smollm2-wikimel"


def test_cache_key_of_a_shipped_name_is_its_files():
    assert adapter_fingerprint("smollm2-wikimel") == adapter_fingerprint(
        str(SMOLLM2_WIKIMEL_ADAPTER)
    )
    assert adapter_fingerprint("smollm2-wikimel") != adapter_fingerprint("smollm2-wikimel-emb5")
