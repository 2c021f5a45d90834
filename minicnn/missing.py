"""The names Keras has and minicnn lacks: the AttributeError that says what comes closest and what is planned.

``minicnn``, ``minicnn.layers``, ``minicnn.utils`` and ``minicnn.backend`` end their module-level
``__getattr__`` with :func:`attribute_error`, so a name Keras has and minicnn lacks still fails
with an AttributeError, but one that says why::

    AttributeError: module 'minicnn.layers' has no attribute 'Conv2dTranspose'. Closest in
    minicnn.layers: Conv2DTranspose.

A name an open issue plans says so, with the issue (``PLANNED``; none at the moment): remove a
name there when it is written.
"""
import difflib

ISSUES = {}  # issue number -> what it brings, for the names of PLANNED

PLANNED = {
}

# What minicnn has under another module than the one Keras users look in.
ELSEWHERE = {
    "minicnn.utils": {"clear_session": "minicnn.backend.clear_session"},
}

# Names no issue plans, with the reason, where a close match would mislead.
NOT_PLANNED = {
    "minicnn": {"applications": "minicnn ships no pretrained models (keras.applications), and none are planned"},
}


def attribute_error(module, name, have):
    """The AttributeError for ``module.name``, naming the closest of ``have`` and the planned names.

    Args:
        module: the module's name, e.g. ``"minicnn.layers"``.
        name: the attribute asked for.
        have: the module's public names, to suggest from.

    Returns:
        AttributeError (to raise) with ``name`` set, as Python's own has it.
    """
    text = f"module {module!r} has no attribute {name!r}"
    if name.startswith("_"):  # dunder probes (copy, pickle, doctest, pytest) ask often: answer plainly
        return AttributeError(text, name=name)
    planned = PLANNED.get(module, {})
    parts = [text + "."]
    if name in planned:
        number = planned[name]
        parts.append(f"It is planned (issue {number}: {ISSUES[number]}) but not in minicnn yet.")
    elif name in ELSEWHERE.get(module, {}):
        parts.append(f"minicnn has it as {ELSEWHERE[module][name]}.")
    elif name in NOT_PLANNED.get(module, {}):
        parts.append(NOT_PLANNED[module][name] + ".")
    close = _closest(name, have)
    if close:
        parts.append(f"Closest in {module}: {', '.join(n for n, _ in close)}.")
    # planned names only where they come closer than what exists (Conv2d wants Conv2D, not Deconv2D)
    best = close[0][1] if close else 0.0
    close_planned = [] if name in planned else [n for n, score in _closest(name, planned) if score >= best]
    if close_planned:
        parts.append("Planned, not in minicnn yet: "
                     + ", ".join(f"{n} (issue {planned[n]})" for n in close_planned) + ".")
    if len(parts) == 1:
        parts.append(f"dir({module}) lists what it has.")
    return AttributeError(" ".join(parts), name=name)


def _closest(name, candidates, cutoff=0.6):
    """Up to three ``(candidate, similarity)`` closest to ``name``, best first, one per spelling that
    differs only in case. The similarity is difflib's ratio (0 to 1) of the lower-case names, or 0.9
    where one name holds the other (Conv2D for DepthwiseConv2D)."""
    scored = {}
    for c in sorted(candidates):  # upper case first: Add before add
        a, b = name.lower(), c.lower()
        if a == b:
            score = 1.0
        elif len(b) > 2 and (a in b or b in a):
            score = 0.9
        else:
            score = difflib.SequenceMatcher(None, a, b).ratio()
        if score >= cutoff and b not in scored:
            scored[b] = (c, score)
    return sorted(scored.values(), key=lambda item: -item[1])[:3]
