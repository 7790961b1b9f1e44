"""``python -m engine.cli`` = ``koodispatch`` (used to start worker processes)."""

from engine.cli import main

main()
