"""BackupAndRestore: back up the training state at every epoch's end; a later fit resumes from it."""
import glob
import os
import tempfile

import numpy as np

from minicnn import distributed, random as mrandom, saving
from minicnn.callbacks.base import Callback


class BackupAndRestore(Callback):
    """Resume an interrupted ``fit`` (a crash, a killed job, Ctrl-C) at the epoch it reached.

    At every epoch's end it writes ``backup_dir/backup.npz``: the weights, the optimizer state
    and learning rate, the number of epochs completed and the state of minicnn's random generator,
    in one file written atomically (a crash mid-write leaves the previous backup whole). When a
    later ``fit`` with this callback starts and a backup exists, it restores all of that and fit
    continues at the next epoch: the run then draws the same shuffles and dropout masks as one
    never interrupted, and on the CPU ends with bit-identical weights (dropout masks drawn by CuPy's
    generator on the GPU, or by each rank's own generator under MPI, start afresh after a restore,
    so with dropout a resumed run differs there; a generator or Sequence given to fit keeps its
    own state). The returned History holds the epochs run after the restart. When training ends
    (all epochs, or stopped by a callback such as EarlyStopping) the backup is deleted, unless
    ``delete_checkpoint=False``; after an interruption it stays.

    The model must be built as before and compiled with the same optimizer class. Under MPI, rank 0
    writes the backup and every rank reads it: put ``backup_dir`` on a file system all ranks see.
    ``double_checkpoint`` (Keras 3's second, older copy) is accepted and ignored: the atomic write
    already keeps a good backup at every moment.

    Raises:
        ValueError: for an empty ``backup_dir``, a ``save_freq`` other than ``"epoch"`` (minicnn
            resumes at an epoch's start, so it backs up at epoch ends only), or, in ``fit``, a
            backup of another architecture or optimizer.
        OSError: at the start of ``fit`` (not after the first epoch's work), when ``backup_dir``
            cannot be created or written.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        if not backup_dir:
            raise ValueError("BackupAndRestore: empty backup_dir; give the folder to keep the backup in.")
        if save_freq != "epoch":
            raise ValueError(f"BackupAndRestore: save_freq={save_freq!r} is not supported: minicnn backs up at "
                             "each epoch's end (save_freq='epoch') and resumes at the next epoch's start.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self.path = os.path.join(self.backup_dir, "backup.npz")
        self._epochs_done = 0
        self._made_dir = False  # whether fit made backup_dir (removed again if fit leaves it empty)

    def on_train_begin(self, logs=None):
        self._epochs_done = 0
        if distributed.is_main():
            self._check_writable()
        if not os.path.exists(self.path):
            return
        state = saving.restore_state(self.model, self.path)
        self.model.optimizer.learning_rate = state["learning_rate"]
        mrandom.set_state(state["random_state"])
        self._epochs_done = self.model._resume_epoch = state["epoch"]  # fit starts at this (0-based) epoch

    def _check_writable(self):
        """Create ``backup_dir`` and write a scratch file in it, so that a folder that cannot hold the
        backup fails now, not after an epoch of training (Keras fails at its first save)."""
        self._made_dir = not os.path.isdir(self.backup_dir)
        try:
            os.makedirs(self.backup_dir, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.backup_dir, prefix=".tmp-backup.npz-"):
                pass
        except OSError as e:
            raise OSError(e.errno, f"BackupAndRestore cannot write its backup in backup_dir={self.backup_dir!r} "
                                   f"({e.strerror or e}). Give a folder that can be created and written to.") from e

    def on_epoch_end(self, epoch, logs=None):
        self._epochs_done = epoch + 1
        state = {"epoch": epoch + 1, "learning_rate": self.model.optimizer.learning_rate,
                 "random_state": mrandom.get_state()}
        if distributed.is_main():
            os.makedirs(self.backup_dir, exist_ok=True)
        # The arrays are gathered inside the write, which only rank 0 makes.
        saving.atomic_write(self.path, lambda f: np.savez(f, **saving.model_arrays(self.model, extra=state)))

    def on_train_end(self, logs=None):
        finished = self._epochs_done >= self.params["epochs"] or self.model.stop_training
        if self.delete_checkpoint and finished and distributed.is_main() and os.path.exists(self.path):
            # with what a process killed mid-write left (atomic_write's temporary files)
            for path in [self.path, *glob.glob(os.path.join(self.backup_dir, ".tmp-backup.npz-*"))]:
                os.remove(path)
            if not os.listdir(self.backup_dir):
                os.rmdir(self.backup_dir)
        elif self._made_dir and os.path.isdir(self.backup_dir) and not os.listdir(self.backup_dir):
            os.rmdir(self.backup_dir)  # no epoch ended: the folder made at the start holds nothing
        distributed.barrier()
