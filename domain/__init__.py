"""The domain of agnt5-evals: aggregates, events, scorers, gates and the Application.

Nothing here imports a web framework, a CLI library or a database driver.
"""

from __future__ import annotations

import sys

from eventsourcing.utils import register_topic

# Stores written before the one-package layout name every class `domain.<module>:<Class>` (event, aggregate and
# snapshot topics). The prefix alias resolves them to agnt5_evals.domain.<module>, so those stores keep opening.
register_topic("domain", sys.modules[__name__])
