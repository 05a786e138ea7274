"""``python -m tests.emulator --host 127.0.0.1 --port 8081 [--limits]`` (see EMULATOR.md)."""

from sandbox.emulator.__main__ import main

if __name__ == "__main__":
    main(prog="python -m tests.emulator")
