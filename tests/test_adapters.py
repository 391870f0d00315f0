import shutil
from pathlib import Path

from i2cr.context import Context
from i2cr.evals.cache import adapter_fingerprint, selector_namespace
from i2cr.models.adapters import SHIPPED_ADAPTERS, resolve_adapter

SHIPPED = "smollm2-wikimel-emb5"


def test_a_shipped_adapter_is_found_by_its_bare_name():
    assert Path(resolve_adapter(SHIPPED)) == SHIPPED_ADAPTERS / SHIPPED
    assert (SHIPPED_ADAPTERS / SHIPPED / "adapter_config.json").is_file()


def test_only_the_default_adapter_ships():
    assert sorted(p.name for p in SHIPPED_ADAPTERS.iterdir()) == [SHIPPED]


def test_other_specs_pass_through(tmp_path, monkeypatch):
    assert resolve_adapter("") == ""
    assert resolve_adapter("someone/llama3-mel-lora") == "someone/llama3-mel-lora"
    monkeypatch.chdir(tmp_path)
    (tmp_path / SHIPPED).mkdir()  # a local folder of the same name wins
    assert resolve_adapter(SHIPPED) == SHIPPED


def test_cache_key_of_a_shipped_name_is_its_files(tmp_path):
    assert adapter_fingerprint(SHIPPED) == adapter_fingerprint(str(SHIPPED_ADAPTERS / SHIPPED))
    retrained = shutil.copytree(SHIPPED_ADAPTERS / SHIPPED, tmp_path / "retrained")
    (retrained / "adapter_config.json").write_text("{}")
    assert adapter_fingerprint(SHIPPED) != adapter_fingerprint(str(retrained))


def test_auto_takes_the_adapter_shipped_for_the_selectors_base():
    assert Context().adapter == "smollm2-wikimel-emb5"
    assert (SHIPPED_ADAPTERS / Context().adapter / "adapter_config.json").is_file()
    assert Context(selector="openai:gpt-4o").adapter == ""
    assert Context(selector_adapter="none").adapter == ""
    assert Context(selector_adapter="").adapter == ""
    assert Context(selector="local:other", selector_adapter="me/lora").adapter == "me/lora"


def test_auto_shares_cache_entries_with_the_adapters_own_name():
    named = Context(selector_adapter="smollm2-wikimel-emb5")
    assert selector_namespace(Context()) == selector_namespace(named)
    assert selector_namespace(Context()) != selector_namespace(Context(selector_adapter="none"))
