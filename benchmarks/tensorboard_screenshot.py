"""The README's TensorBoard picture: a short run of examples/mnist_conv.py with ``--tensorboard``,
``tensorboard --logdir`` on localhost, and a screenshot of its scalars page by headless Chromium.

    python benchmarks/tensorboard_screenshot.py            # writes benchmarks/figures/tensorboard_scalars.png

Needs the tensorboard extra (pip install 'minicnn[tensorboard]') and Debian's chromium
(apt-get install chromium). It lives beside the benchmarks, not the examples: it makes a figure of
the project's documentation and drives other programs; it trains nothing the example does not.
It prints the commands it ran and the versions, so the picture can be made again.
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "figures" / "tensorboard_scalars.png"
# The scalars page, the loss charts first (tagFilter), the values as logged (no smoothing).
PAGE = "scalars&tagFilter=loss&_smoothingWeight=0"


def free_port():
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def wait_until_answering(url, process, timeout):
    """Poll ``url`` until it answers 200; RuntimeError if ``process`` ends or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tensorboard exited with status {process.returncode} before answering at {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"tensorboard did not answer at {url} within {timeout} s")


def run(command, **kwargs):
    print("$", " ".join(map(str, command)), flush=True)
    return subprocess.run(command, check=True, **kwargs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=6, help="epochs of the example's run (default 6)")
    p.add_argument("--limit", type=int, default=2000, help="training samples of the embedded sample (default 2000)")
    p.add_argument("--out", type=lambda text: Path(text).resolve(), default=DEFAULT_OUT, help=f"the PNG (default {DEFAULT_OUT.relative_to(ROOT)})")
    p.add_argument("--logdir", type=Path, default=None, help="the TensorBoard logs (default: a temporary folder)")
    p.add_argument("--page", default=PAGE, help=f"TensorBoard's page, the URL's #fragment (default {PAGE})")
    p.add_argument("--window-size", default="1300,640", help="Chromium's window, W,H in pixels (default 1300,640)")
    p.add_argument("--budget-ms", type=int, default=15000, help="Chromium's --virtual-time-budget (default 15000)")
    args = p.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    tensorboard = shutil.which("tensorboard") or str(Path(sys.executable).with_name("tensorboard"))
    if chromium is None:
        raise SystemExit("chromium not found: apt-get install chromium (Debian's package)")
    if not Path(tensorboard).exists():
        raise SystemExit("the tensorboard command is missing: pip install 'minicnn[tensorboard]'")
    with tempfile.TemporaryDirectory() as scratch:
        # Relative to the scratch folder by default, so the page shows "logs", not a temporary path.
        logdir = args.logdir.resolve() if args.logdir else "logs"
        run([sys.executable, ROOT / "examples" / "mnist_conv.py", "--data", "sample", "--epochs", str(args.epochs),
             "--limit", str(args.limit), "--seed", "0", "--no-save", "--tensorboard", logdir], cwd=scratch)
        port = free_port()
        server = subprocess.Popen([tensorboard, "--logdir", str(logdir), "--host", "localhost", "--port", str(port)],
                                  cwd=scratch, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until_answering(f"http://localhost:{port}/", server, timeout=120)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            # root (containers, CI) needs --no-sandbox; a separate profile keeps the user's own untouched.
            run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 f"--user-data-dir={Path(scratch) / 'chromium'}", f"--window-size={args.window_size}",
                 f"--virtual-time-budget={args.budget_ms}", f"--screenshot={args.out}",
                 # forceSVG: without a GPU the WebGL charts of TensorBoard stay blank in headless Chromium
                 f"http://localhost:{port}/?forceSVG=true#{args.page}"], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
        finally:
            server.terminate()
            server.wait(timeout=30)
    versions = subprocess.run([chromium, "--version"], capture_output=True, text=True).stdout.strip()
    tb_version = subprocess.run([tensorboard, "--version_tb"], capture_output=True, text=True).stdout.strip()
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes); {versions}; tensorboard {tb_version}")


if __name__ == "__main__":
    main()
