"""The exit statuses of `gallery-publisher`: what a script or a workflow step can branch on.

Every command keeps to these three; command_errors.py is the one place that picks 1 or 2 for an
error, and the README's "Errors and what to do" lists them.
"""

from typing import Final

# The command did what it was asked: printed the plan, staged or validated the VHD, listed the
# versions; for `submit`, the job succeeded (or dry-ran).
OK: Final = 0

# Something failed that may work later, unchanged: a service could not be reached, throttled or kept
# failing past the retries (Azure, the Function App), Azure failed in a way the tool does not explain,
# or the job `submit` followed ended Failed. Look at the service or the job's report; run again.
FAILED: Final = 1

# The command was refused: an argument, a setting, or what they name is wrong (an image name, a URL,
# a missing container or definition, a VHD Azure would refuse, a job the app answered 400 to). The
# same command is refused again: fix what the one line on stderr says. argparse's usage errors
# exit 2 as well.
REFUSED: Final = 2
