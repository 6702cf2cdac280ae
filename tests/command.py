"""The `eenn` command run as a user runs it: a fresh process, with none of the TF_* variables
that the test process (through eenn's own import) has set."""

import os
import subprocess
import sys

TENSORFLOW_NOISE = ("absl", "oneDNN", "cpu_feature_guard", "retracing")  # none of it may reach the user


def user_environment() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("TF_")}


def run_eenn(*args, cwd, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eenn.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=user_environment())
