"""Pure array functions with their backward beside them; no classes, no state.

Read :mod:`minicnn.nn.conv` first: it holds the idea the rest of the framework serves.
"""
