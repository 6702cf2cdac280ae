"""The `eenn` command run as a user runs it: a fresh process, with none of the TF_* variables
that the test process (through eenn's own import) has set."""

import os
import subprocess
import sys

TENSORFLOW_NOISE = ("absl", "oneDNN", "cpu_feature_guard", "retracing")  # none of it may reach the user


def user_environment(path: "str | None" = None) -> dict:
    """The environment without TF_* variables; `path` replaces PATH (which programs eenn finds)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    if path is not None:
        env["PATH"] = path
    return env


def run_eenn(*args, cwd, timeout: float = 300, path: "str | None" = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eenn.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=user_environment(path))
