"""LoRA supervised fine-tuning of the selector with peft, loss on the answer tokens only.

The defaults are the I2CR paper's setup (Llama-3-8B): LoRA r=8, alpha=16, dropout 0 on all seven
projection layers, learning rate 2e-5 with a cosine schedule and 100 warm-up steps, batch 1 with
16 gradient-accumulation steps, 2 epochs. The same loop runs on a GPU (bfloat16, weights spread
over the visible devices) and on a CPU (float32). Training is resumable: a checkpoint (adapter,
optimizer, scheduler, position) is written every `save_every` optimizer steps and picked up
again when the same command is rerun with the same output folder.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from i2cr.finetune.data import ChatTurn, InstructionExample, read_examples
from i2cr.models.precision import Precision, resolve_precision

logger = logging.getLogger(__name__)

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
IGNORE_INDEX = -100
CONFIG_FILE = "i2cr_finetune.json"
LOG_FILE = "train_log.jsonl"
CHECKPOINTS = "checkpoints"
TRAINER_STATE = "trainer_state.pt"


@dataclass(kw_only=True)
class TrainConfig:
    """One training run; the defaults are the paper's (see the module docstring).

    `top_layers` > 0 puts LoRA on the last N transformer layers only, so the backward pass
    stops there (much cheaper on a CPU); 0 means every layer, as in the paper.
    `max_examples` > 0 trains on a random subset of the data, drawn with `subset_seed`.
    `precision` None trains the base in bfloat16 on CUDA and in float32 on a CPU; "bfloat16"
    also suits CPUs with bfloat16 instructions (`i2cr.models.precision`), "auto" picks so.
    The LoRA weights themselves stay float32 (peft's default).
    """

    data: str
    output: str
    base: str = "smollm2"
    epochs: float = 2.0
    learning_rate: float = 2e-5
    warmup_steps: int = 100
    grad_accum: int = 16
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    target_modules: tuple[str, ...] = PROJECTIONS
    top_layers: int = 0
    max_examples: int = 0
    subset_seed: int = 0
    max_length: int = 4096
    max_grad_norm: float = 1.0
    save_every: int = 10
    seed: int = 0
    gradient_checkpointing: bool = False
    precision: Precision | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        """Reject settings that cannot train."""
        if self.epochs <= 0 or self.learning_rate <= 0:
            raise ValueError("epochs and learning_rate must be positive")
        for name in ("grad_accum", "lora_r", "save_every", "max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "top_layers", "max_examples"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.precision is not None:
            resolve_precision(self.precision)


@dataclass
class TokenizedExample:
    """Token ids of prompt + answer, with labels masking the prompt."""

    input_ids: list[int]
    labels: list[int]


def _chat_ids(tokenizer: Any, messages: Sequence[ChatTurn], generation_prompt: bool) -> list[int]:
    encoded = tokenizer.apply_chat_template(
        list(messages), add_generation_prompt=generation_prompt, tokenize=True
    )
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def tokenize_example(tokenizer: Any, example: InstructionExample) -> TokenizedExample:
    """Prompt exactly as at inference (chat template + generation prompt), then the answer turn.

    Only the answer tokens (and the template's end-of-turn) carry a label.
    """
    prompt = _chat_ids(tokenizer, example["messages"], generation_prompt=True)
    answer_turn = ChatTurn(role="assistant", content=example["answer"])
    full = _chat_ids(tokenizer, [*example["messages"], answer_turn], generation_prompt=False)
    if full[: len(prompt)] != prompt:
        # Templates that rewrite earlier turns: append the answer and end-of-sequence by hand.
        answer = tokenizer(example["answer"], add_special_tokens=False)["input_ids"]
        full = [*prompt, *answer, tokenizer.eos_token_id]
    return TokenizedExample(
        input_ids=full, labels=[IGNORE_INDEX] * len(prompt) + full[len(prompt) :]
    )


def answer_loss(model: Any, item: TokenizedExample, device: torch.device) -> torch.Tensor:
    """Mean cross-entropy of the answer tokens.

    Logits are computed for the answer positions only: over a 50k vocabulary the full logits
    cost as much as a good part of the small model's forward pass.
    """
    start = next(i for i, label in enumerate(item.labels) if label != IGNORE_INDEX)
    ids = torch.tensor([item.input_ids], device=device)
    logits = model(input_ids=ids, logits_to_keep=len(item.input_ids) - start + 1).logits
    targets = torch.tensor(item.labels[start:], device=device)
    return torch.nn.functional.cross_entropy(logits[0, :-1].float(), targets)


def lora_config(config: TrainConfig, num_layers: int) -> Any:
    """The peft LoRA configuration of a run."""
    from peft import LoraConfig

    layers = None
    if config.top_layers:
        layers = list(range(max(0, num_layers - config.top_layers), num_layers))
    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        layers_to_transform=layers,
        task_type="CAUSAL_LM",
    )


def _latest_checkpoint(output: Path) -> Path | None:
    found = sorted((output / CHECKPOINTS).glob("step-*"), key=lambda p: int(p.name[5:]))
    return found[-1] if found else None


def _epoch_order(count: int, seed: int, epoch: int) -> list[int]:
    order = list(range(count))
    random.Random(f"{seed}:{epoch}").shuffle(order)
    return order


@dataclass
class TrainResult:
    """Where the adapter went and how the loss moved."""

    adapter_dir: Path
    steps: int
    examples_seen: int
    first_loss: float | None
    last_loss: float | None
    skipped_too_long: int


def train(config: TrainConfig) -> TrainResult:
    """Train a LoRA adapter on instruction examples; resume from the latest checkpoint."""
    from peft import get_peft_model, set_peft_model_state_dict
    from peft.utils import load_peft_weights
    from transformers import get_cosine_schedule_with_warmup

    from i2cr.models.local_chat import load_base_model

    torch.manual_seed(config.seed)
    output = Path(config.output)
    output.mkdir(parents=True, exist_ok=True)
    examples = list(read_examples(config.data))
    if not examples:
        raise ValueError(f"no training examples in {config.data}")
    if config.max_examples and config.max_examples < len(examples):
        examples = random.Random(config.subset_seed).sample(examples, config.max_examples)

    precision = None if config.precision is None else resolve_precision(config.precision)
    model, tokenizer = load_base_model(config.base, precision)
    tokenized = [tokenize_example(tokenizer, e) for e in examples]
    kept = [t for t in tokenized if len(t.input_ids) <= config.max_length]
    skipped = len(tokenized) - len(kept)
    if not kept:
        raise ValueError(f"every example is longer than max_length={config.max_length} tokens")
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    model = get_peft_model(model, lora_config(config, model.config.num_hidden_layers))
    model.peft_config["default"].base_model_name_or_path = config.base

    total_examples = math.ceil(config.epochs * len(kept))
    total_steps = math.ceil(total_examples / config.grad_accum)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=0.0)
    scheduler = get_cosine_schedule_with_warmup(
        optimizer, min(config.warmup_steps, total_steps), total_steps
    )
    step, seen = 0, 0
    checkpoint = _latest_checkpoint(output)
    if checkpoint is not None:
        set_peft_model_state_dict(model, load_peft_weights(str(checkpoint)))
        state = torch.load(checkpoint / TRAINER_STATE, weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, seen = state["step"], state["seen"]
        logger.info("resuming from %s (step %d, %d examples seen)", checkpoint, step, seen)
    _write_config(output, config, len(examples), len(kept), total_steps)

    model.train()
    device = next(p.device for p in trainable)
    first_loss, last_loss, window = None, None, []
    started = time.monotonic()
    bar = tqdm(
        total=total_examples,
        initial=seen,
        desc="fine-tuning",
        unit="ex",
        disable=not config.progress,
    )
    with (output / LOG_FILE).open("a", encoding="utf-8") as log:
        while seen < total_examples:
            epoch, position = divmod(seen, len(kept))
            item = kept[_epoch_order(len(kept), config.seed, epoch)[position]]
            loss = answer_loss(model, item, device)
            (loss / config.grad_accum).backward()
            window.append(float(loss.detach()))
            seen += 1
            bar.update(1)
            if seen % config.grad_accum and seen < total_examples:
                continue
            torch.nn.utils.clip_grad_norm_(trainable, config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            last_loss = sum(window) / len(window)
            first_loss = last_loss if first_loss is None else first_loss
            record = {
                "step": step,
                "examples": seen,
                "loss": round(last_loss, 5),
                "lr": scheduler.get_last_lr()[0],
                "seconds": round(time.monotonic() - started, 1),
            }
            log.write(json.dumps(record) + "\n")
            log.flush()
            bar.set_postfix(loss=f"{last_loss:.4f}", step=f"{step}/{total_steps}")
            window = []
            if step % config.save_every == 0 or seen >= total_examples:
                _save_checkpoint(model, optimizer, scheduler, output, step, seen)
    bar.close()
    model.save_pretrained(str(output))
    return TrainResult(output, step, seen, first_loss, last_loss, skipped)


def _save_checkpoint(
    model: Any, optimizer: Any, scheduler: Any, output: Path, step: int, seen: int
) -> None:
    """Write step-N atomically, then drop older checkpoints."""
    root = output / CHECKPOINTS
    target = root / f"step-{step}"
    tmp = root / f".tmp-step-{step}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    state = {
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": step,
        "seen": seen,
    }
    torch.save(state, tmp / TRAINER_STATE)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    for old in root.glob("step-*"):
        if old != target:
            shutil.rmtree(old, ignore_errors=True)


def _write_config(
    output: Path, config: TrainConfig, examples: int, kept: int, total_steps: int
) -> None:
    record = {
        **asdict(config),
        "examples": examples,
        "examples_within_max_length": kept,
        "total_steps": total_steps,
    }
    (output / CONFIG_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
