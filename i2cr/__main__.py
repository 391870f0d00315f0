"""`python -m i2cr`: the `i2cr` command."""

from i2cr.cli import main

raise SystemExit(main())
