"""Prompts of KG enrichment: description summaries (I2CR) and short entity briefs (DIM)."""

ENRICH_SYSTEM_PROMPT = (
    "You write short, factual descriptions of knowledge-graph entities. Answer with the text "
    "only: no preamble, no lists, no speculation."
)

SUMMARY_PROMPT = (
    "Summarise this description of the entity {name} in at most {max_chars} characters. Keep "
    "the facts that tell it apart from namesakes: what it is, dates, places, occupation.\n\n"
    "Description: {description}"
)

BRIEF_PROMPT = (
    "Write a brief for the entity {name}{aliases}: what it is and what it is best known for, "
    "in one or two sentences of at most {max_chars} characters."
)

ALIASES_NOTE = " (also known as {aliases})"
