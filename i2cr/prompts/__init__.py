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
