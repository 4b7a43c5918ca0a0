"""``python -m pyro_vae``: the ``pyro-vae`` command line, for launchers such as torchrun ``-m``."""

import sys

from pyro_vae.cli.launch import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
