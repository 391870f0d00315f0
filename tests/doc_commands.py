"""The shell commands of a Markdown file's ```bash blocks, as a user would type them."""

from __future__ import annotations

import re
from pathlib import Path

# A fenced bash block, indented or not (inside a list item).
BASH_BLOCK = re.compile(r"^( *)```bash\n(.*?)\n\1```", re.S | re.M)


def shell_commands(markdown: Path) -> list[str]:
    """Each command of the file's bash blocks: continuations joined, comments dropped."""
    commands = []
    for _, block in BASH_BLOCK.findall(markdown.read_text(encoding="utf-8")):
        joined = re.sub(r"\\\n\s*", "", block)
        for line in joined.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands
