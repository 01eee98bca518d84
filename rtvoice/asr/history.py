"""The stream's recent audio, by absolute sample index."""

from __future__ import annotations

import numpy as np


class AudioHistory:
    """Samples by absolute index, kept from `base` on; older samples are dropped on demand."""

    def __init__(self):
        self._data = np.zeros(0, dtype=np.float32)
        self.base = 0  # absolute index of _data[0]

    @property
    def end(self) -> int:
        return self.base + len(self._data)

    def append(self, samples: np.ndarray, start: int) -> None:
        if start > self.end:  # a gap: the missing samples are silence
            if len(self._data) == 0:
                self.base = start
            else:
                self._data = np.concatenate([self._data, np.zeros(start - self.end, np.float32)])
        skip = self.end - start  # samples already held
        if skip < len(samples):
            self._data = np.concatenate([self._data, samples[max(skip, 0):]])

    def slice(self, a: int, b: int) -> np.ndarray:
        a, b = max(a, self.base), min(b, self.end)
        return self._data[a - self.base:b - self.base] if b > a else np.zeros(0, np.float32)

    def drop_before(self, sample: int) -> None:
        if sample > self.base:
            cut = min(sample - self.base, len(self._data))
            self._data = self._data[cut:].copy()
            self.base += cut
