"""The training progress bar, in Keras 3's format.

verbose=1 in a terminal (or a notebook) redraws one live line per epoch::

    469/469 ━━━━━━━━━━━━━━━━━━━━ 31s 65ms/step - accuracy: 0.8896 - loss: 0.3602 - val_accuracy: 0.9812 - val_loss: 0.0594

with the step counter in bold, the done part of the bar green and the rest grey (ANSI codes),
the ETA while running and the elapsed time once finished, then the time per step (s, ms or us).
Values print with 4 decimals, in scientific notation at or below 1e-3 in magnitude (``nan``
prints as ``nan``). Where stdout cannot encode '━', the bar is drawn with '='.

verbose=2 prints only the finished line, without the bar::

    469/469 - 31s - 65ms/step - accuracy: 0.8896 - loss: 0.3602

Where stdout is not a terminal (a log file, a pipe) the live line is not drawn: Keras 3 on
Linux and macOS writes its backspaces, carriage returns and colour codes into the file anyway
(its check counts every POSIX system as a terminal); minicnn writes plain lines instead, at most
one every ``LOG_INTERVAL`` seconds while an epoch runs, and always the finished line, which
reads as Keras's. Without colours, the part of the bar still to go is drawn thin::

     21/100 ━━━━──────────────── 39s 500ms/step - loss: 0.0476
"""
import math
import os
import sys
import time

import numpy as np

# Seconds between progress lines written to a log file or pipe (the finished line always prints).
LOG_INTERVAL = 10.0

_BOLD, _GREEN, _GREY, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"

# The clock; a module global so that tests can drive it.
_now = time.perf_counter

# Whether the last write left a live line open (a terminal's bar, redrawn without a newline).
_line = {"open": False}


def _dynamic_display(stream):
    """True where a carriage return redraws the line: a terminal, Jupyter, or PyCharm's console."""
    isatty = getattr(stream, "isatty", None)
    try:
        tty = bool(isatty and isatty())
    except ValueError:  # a closed stream
        tty = False
    return tty or "ipykernel" in sys.modules or "PYCHARM_HOSTED" in os.environ


def _write(message):
    """Write to stdout, drawing the bar with '=' (and '.') where stdout's encoding lacks '━'
    (and '─'), as Keras 3 does."""
    out = sys.stdout
    _line["open"] = not message.endswith("\n")
    try:
        out.write(message)
    except UnicodeEncodeError:
        encoding = getattr(out, "encoding", None) or "utf-8"
        message = message.replace("━", "=").replace("─", ".")
        out.write(message.encode(encoding, errors="ignore").decode(encoding))
    out.flush()


def print_message(message):
    """Print a callback's message on a line of its own: below a live bar, with no blank line.

    Keras starts these messages with a newline to leave the terminal's bar line; in a log file,
    or with no bar drawn, that newline only makes a blank line, so it is written only when needed.
    """
    _write(("\n" if _line["open"] else "") + message + "\n")


def format_value(value):
    """``0.1234`` for magnitudes above 1e-3, ``1.2340e-04`` at or below (and for nan)."""
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def format_eta(seconds):
    """``5s``, ``1:05`` or ``1:01:05``, the remaining time truncated to whole seconds."""
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


def format_time_per_unit(seconds, unit_name="step"):
    """``2s/step``, ``65ms/step`` or ``850us/step`` (0 shows as ``0s/step``)."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


class Progbar:
    """A progress bar for ``target`` steps, printed to stdout.

    Args:
        target: total number of steps, or None if unknown (shows ``     12/Unknown``).
        width: characters of the bar, default 20.
        verbose: 0 silent, 1 live bar, 2 one line when finished.
        interval: minimum seconds between redraws of the live bar, default 0.05.
        stateful_metrics: names whose values are shown as given; any other name is averaged
            over the steps seen (weighted by the steps between updates), as Keras does.
            The finalizing update's values are always shown as given.
        unit_name: the unit in the time per unit, default ``"step"``.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 unit_name="step"):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self._dynamic = _dynamic_display(sys.stdout)
        self._values = {}       # name -> [weighted sum, weight]
        self._order = []        # names in the order they first appeared
        self._seen_so_far = 0
        self._start = _now()
        self._last_update = -math.inf
        self._time_after_first_step = None
        self._prev_width = 0

    def due(self):
        """True if an update now would redraw the line (verbose=1 and the interval has passed).

        Lets a training loop skip computing values for updates that would not be shown.
        """
        interval = self.interval if self._dynamic else max(self.interval, LOG_INTERVAL)
        return self.verbose == 1 and _now() - self._last_update >= interval

    def update(self, current, values=None, finalize=None):
        """Record progress to step ``current`` and redraw if due.

        Args:
            current: steps done so far (1-based index of the last finished step).
            values: list of ``(name, value)`` pairs; value a number (or an array, averaged).
            finalize: whether this is the last update; default ``current >= target``.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or ():
            value = _to_float(value)
            if name not in self._values:
                self._order.append(name)
            if finalize or name in self.stateful_metrics:
                self._values[name] = [value, 1]
            else:
                weight = max(current - self._seen_so_far, 1)
                total = self._values.setdefault(name, [0.0, 0])
                total[0] += value * weight
                total[1] += weight
        self._seen_so_far = current
        now = _now()
        time_per_unit = self._time_per_unit(current, now)
        if self.verbose == 1:
            if not finalize and not self.due():
                return
            self._draw(current, now, time_per_unit, finalize)
        elif self.verbose == 2 and finalize and self.target:
            digits = int(math.log10(self.target)) + 1
            _write(f"{current:{digits}d}/{self.target} - {now - self._start:.0f}s - "
                   f"{format_time_per_unit(time_per_unit, self.unit_name)}{self._metrics_text()}\n")
        self._last_update = now

    def add(self, n, values=None):
        """Advance by ``n`` steps: ``update(steps_so_far + n, values)``."""
        self.update(self._seen_so_far + n, values)

    def _draw(self, current, now, time_per_unit, finalize):
        """Write the verbose=1 line: redrawn in place on a terminal, as a new line in a file."""
        dyn = self._dynamic
        if self.target:
            digits = int(math.log10(self.target)) + 1
            count = f"{current:{digits}d}/{self.target}"
            done = min(int(self.width * current / self.target), self.width)
            if dyn:
                bar_text = f"{count} {'━' * self.width}"
                green = f"{_GREEN}{'━' * done}{_RESET}" if done > 0 else ""
                bar = f"{_BOLD}{count}{_RESET} {green}{_GREY}{'━' * (self.width - done)}{_RESET}"
            else:  # no colours in a file: the part still to go is drawn thin instead of grey
                bar = bar_text = f"{count} {'━' * done}{'─' * (self.width - done)}"
        else:
            bar = bar_text = f"{current:7d}/Unknown"
        if self.target and not finalize:
            clock = format_eta(time_per_unit * (self.target - current))
        else:
            clock = f"{now - self._start:.0f}s"
        tail = f" {format_time_per_unit(time_per_unit, self.unit_name)}{self._metrics_text()}"
        width = len(bar_text) + 1 + len(clock) + len(tail)
        line = bar + (f" {_BOLD}{clock}{_RESET}" if dyn else f" {clock}") + tail
        if dyn:
            # Back over the previous line, and blank out what is left of it if this one is shorter.
            line = "\b" * self._prev_width + "\r" + line + " " * max(self._prev_width - width, 0)
            self._prev_width = width
        _write(line + ("\n" if finalize or not dyn else ""))

    def _metrics_text(self):
        return "".join(f" - {name}: {format_value(total / max(1, count))}"
                       for name, (total, count) in ((n, self._values[n]) for n in self._order))

    def _time_per_unit(self, current, now):
        """Seconds per step, leaving out the first step (compilation, caches) once there are more."""
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_unit


def _to_float(value):
    """A Python float from a number, a 0-d array (NumPy or CuPy) or an array (its mean)."""
    try:
        return float(value)
    except TypeError:
        if hasattr(value, "get"):  # CuPy
            value = value.get()
        return float(np.mean(value))
