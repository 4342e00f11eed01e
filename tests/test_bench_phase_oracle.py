"""bench/phase_oracle.py: the magnitude/phase swap gives back what each side got right."""
import sys
from pathlib import Path

import numpy as np

from conftest import voiced_clip
from telucodec.metrics import snr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import phase_oracle  # noqa: E402


def test_swap_takes_magnitude_from_one_side_and_phase_from_the_other():
    ref = voiced_clip(1.0)
    quieter = phase_oracle.swap(ref, 0.5 * ref, hop=160)       # right phase, wrong magnitude
    assert snr(ref, quieter["true magnitude + model phase"]) > 40
    assert np.allclose(quieter["model magnitude + true phase"], 0.5 * ref, atol=1e-4)
    inverted = phase_oracle.swap(ref, -ref, hop=160)            # right magnitude, phase off by pi
    assert snr(ref, inverted["model magnitude + true phase"]) > 40
    assert snr(ref, inverted["true magnitude + model phase"]) < -5
