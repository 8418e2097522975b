"""`python -m tl_core.kernel` (and `--worker` for its worker process)."""

import sys

from tl_core.kernel.process import main

sys.exit(main())
