"""Training-history plots with matplotlib, an optional dependency imported only here."""
import os


def plot_history(history, path="history.png", title=None):
    """Plot loss and accuracy per epoch, training and validation, and save the figure as PNG.

    Args:
        history: the History returned by ``fit`` (or its ``.history`` dict).
        path: the PNG file to write (written atomically).
        title: optional figure title.
    Returns:
        The path written.
    Raises:
        ImportError: if matplotlib is missing, saying how to install it.
        ValueError: if the history holds no epochs.
    """
    try:
        import matplotlib
        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise ImportError("plot_history needs matplotlib: pip install 'minicnn[plot]'.") from None
    from minicnn.saving import atomic_write

    logs = getattr(history, "history", history)
    if not logs or not logs.get("loss"):
        raise ValueError("The history holds no epochs to plot; train with fit() first.")
    acc_key = next((k for k in ("accuracy", "acc") if k in logs.keys()), None)
    panels = [("loss", "Loss")] + ([(acc_key, "Accuracy")] if acc_key else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels):
        epochs = range(1, len(logs[key]) + 1)
        ax.plot(epochs, logs[key], "o-", label="train")
        if "val_" + key in logs.keys():
            ax.plot(epochs, logs["val_" + key], "s--", label="validation")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # no epoch 1.5
        ax.set_ylabel(label.lower())
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    atomic_write(os.fspath(path), lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)
    return path
