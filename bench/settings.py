"""The production settings (config/settings.py, read from the same environment) plus two
benchmark-only changes, so that what is measured is the shop as `make serve` runs it:

- ROOT_URLCONF adds one path, `/bench/bare/` (bench/urls.py): the baseline a verification's
  throughput is compared with;
- STATIC_ROOT is a temporary directory of the benchmark (BENCH_STATIC_ROOT) that it fills
  with `collectstatic`, as `make serve` does, instead of the checkout's `staticfiles/`, which
  belongs to whoever runs `make serve` in this tree.
"""

import os
from pathlib import Path

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
STATIC_ROOT = Path(os.environ["BENCH_STATIC_ROOT"])
