"""Every prompt text of the selector and its answer format (the I2CR reference prompt)."""

SYSTEM_PROMPT = (
    "Your task is to create matches between the mention and candidate entities to select the "
    "best-matched entity for the given mention."
)

NIL_INSTRUCTION = "If no candidate matches the mention, you ANSWER: nil."

USER_PROMPT = (
    "GIVEN:\n{ask_dict}{notes}\n"
    "Choose only one option from candidate entities; no explanations or multiple choices.\n"
    "Must use this format for the final answer: <|ANSWER|>: <The entity name you selected>."
)

CLUE_PREFIX = "Pay special attention to the mention image information: "

EXCLUSION_NOTE = "Note that {name} in the candidates has been excluded."

ANSWER_TAG = "<|ANSWER|>:"

NIL_ANSWER = "nil"

MENTION_KEY = "mention"
CONTEXT_KEY = "mention context text"
CLUE_KEY = "mention image information"
CANDIDATES_KEY = "candidate entities"

# Text inside the data (mention, context, clue, candidate names and descriptions) that speaks
# to the selector instead of describing the world: a sentence matching one of these is left
# out of the prompt. None matches any text of the WikiMEL or WikiDiverse samples.
STEERING_PATTERNS = (
    r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,60}?\b(?:above|previous|prior"
    r"|preceding|earlier|foregoing|instructions?|prompts?|rules)\b",
    r"\b(?:new|updated|real|actual) instructions?\b|\bsystem prompt\b"
    r"|\byour (?:task|instructions?|final answer)\b",
    r"(?:^|\n)\s*(?:system|assistant|user)\s*:",
    r"\b(?:you must|you should|you will|instead) (?:answer|respond|reply|select|choose|pick"
    r"|output)\b",
    r"\bmust use this format\b|\bchoose only one option\b|\bGIVEN:",
)

# Chat-template and answer tags (`<|ANSWER|>`, `<|im_start|>`): removed from data wherever
# they appear, so no data can carry the answer format.
SPECIAL_TAG_PATTERN = r"<\|[^|<>]{0,30}\|>"

STEERING_WARNING = (
    "instruction-like text left out of the selector's prompt (it addressed the selector): {where}"
)
