"""`pulumi up -s dev|staging|prod`: TraderX on Kubernetes with ConfigHub as source of truth."""

import atexit
import gc

# A run lasts seconds and leaves little cyclic garbage, but with the default first threshold
# (700) the imports and the build ran about 115 collections, 70-90 ms of a no-op `up`, on the
# path every registration waits for. At 100,000 a no-op runs none; a program that allocates
# far more (a much larger stack) still collects.
gc.set_threshold(100_000, 10, 10)

from components.stack.program import main  # noqa: E402  (after the threshold, on purpose)

# The interpreter's exit collects the whole heap (the resource graph, pydantic and pulumi's
# modules): about 0.25 s of every `pulumi up`/`preview` for memory the OS frees anyway.
# Freezing it at exit leaves that collection nothing to scan.
atexit.register(gc.freeze)

main()
