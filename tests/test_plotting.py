"""The core's figures: before and after, and the training history."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from asteris.errors import OutputExistsError  # noqa: E402
from asteris.plotting import plot_before_after, plot_training_history  # noqa: E402


def test_figures_are_written_once_and_kept(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "panels.png"
    fig = plot_before_after(rng.normal(size=(16, 16)), rng.normal(size=(16, 16)), path)
    assert len(fig.axes) >= 2 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(OutputExistsError):
        plot_before_after(np.zeros((4, 4)), np.zeros((4, 4)), path)
    history = [{"step": 1, "val_loss": 3.0}, {"step": 2, "val_loss": None}, {"step": 3, "val_loss": 2.0}]
    fig = plot_training_history(history, tmp_path / "history.png")
    assert fig.axes[0].lines[0].get_xdata().tolist() == [1, 3]
