"""`python -m bot` is the `eadesk` program."""

from bot.cli import main

raise SystemExit(main())
