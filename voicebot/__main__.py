"""``python -m voicebot`` runs the command line."""

from voicebot.cli import main

raise SystemExit(main())
