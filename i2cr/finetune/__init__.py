"""Fine-tuning the selector: instruction data, LoRA SFT with peft, adapter export.

Typical use (see README): `i2cr finetune data` builds the instruction JSONL from a dataset
in the I2CR release format, `i2cr finetune train` trains a LoRA adapter on it, and
`Context(selector="local:<base>", selector_adapter="<adapter folder>")` selects it.
"""
