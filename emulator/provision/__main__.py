"""`python emulator/provision ...` and `python -m provision ...` (from emulator/)."""
import os
import sys

if not __package__:  # run as a directory: make emulator/ importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from provision import main  # noqa: E402

sys.exit(main())
