"""The exit codes of every mcp-scale command (CI gates read them)."""

PASS = 0  # every checker and threshold held (or could not decide)
FAIL = 1  # a checker or a threshold failed
USAGE = 2  # bad usage or configuration: nothing was started
COULD_NOT_RUN = 3  # the run could not be carried out (what was recorded is kept)
NO_CAPACITY = 4  # mcp-scale capacity: even the first step broke a threshold
