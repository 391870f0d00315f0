"""What third-party libraries may print on the terminal: quiet unless `--verbose`."""

from __future__ import annotations

import os
import sys

# Read by huggingface_hub and transformers when they are imported, here and in child processes
# (Ray workers): no download or weight-loading progress bars, warnings and errors only.
QUIET_ENVIRONMENT = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}


def quiet_third_party_output() -> None:
    """Silence the model libraries' progress bars and load reports; i2cr's own bars stay.

    A variable the user set keeps its value; a library already imported is told directly.
    """
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
