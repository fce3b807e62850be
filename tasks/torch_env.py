"""Process set-up shared by the PyTorch tasks (training, QAT); imports no torch itself."""
import os
import platform
import sys

# Large activations are otherwise freshly mmapped and page-faulted on every op
# (measured 5-20x slower): set glibc's malloc tunables before torch loads.
MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "4294967296",
    "MALLOC_TRIM_THRESHOLD_": "68719476736",
    "MALLOC_TOP_PAD_": "1073741824",
}


def reexec_with_malloc_env():
    """Re-run this process with MALLOC_ENV set, unless it is already (call before importing torch)."""
    if any(os.environ.get(k) != v for k, v in MALLOC_ENV.items()):
        os.environ.update(MALLOC_ENV)
        os.execv(sys.executable, [sys.executable] + sys.argv)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()
