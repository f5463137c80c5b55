"""Per-frame arrays of a job's range that are read in windows instead of held whole.

A job's range can be ten minutes long. Its tracked meshes (478 points a frame) and its planned
mouths (166 points a frame) are a few kilobytes per frame each, so held whole they made the job's
memory grow by hundreds of megabytes with the range. The render reads them frame by frame and the
plan in windows, so they can live in a file instead:

- `FrameArray`: rows in memory (a short range, a test, a plan the neural engine sampled whole);
- `NpyFrames`: the rows of an `.npy` file on disk (the tracking cache's meshes), read by windows;
- `ScratchFrames`: rows written once by the job in windows and read back, in an anonymous temporary
  file that the system deletes when the job drops it, even after a crash: nothing is left behind;
- `FrameWindow`: a window of rows of another source (a range inside a longer reference's tracking).

All four answer `read(start, stop)` with a fresh array of rows [start, stop), so what a reader keeps
is what it asked for, and the resident memory is the window's, whatever the range's length.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np


class FrameSource(Protocol):
    """Rows of a fixed shape and dtype, one per frame, read by windows."""

    @property
    def row_shape(self) -> tuple[int, ...]: ...

    def __len__(self) -> int: ...

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) (clipped to the array) as a new array (stop - start, *row_shape)."""
        ...


def read_row(source: FrameSource, index: int) -> np.ndarray:
    """One row of `source`."""
    return source.read(index, index + 1)[0]


READ_CHUNK = 256
"""Rows per read when a whole range is swept (`TrackedRange.points`): 256 meshes are 1.4 MB."""


class FrameArray:
    """Rows held in memory: an (N, *row_shape) array."""

    def __init__(self, rows: np.ndarray) -> None:
        self._rows = np.asarray(rows)

    @property
    def row_shape(self) -> tuple[int, ...]:
        return tuple(self._rows.shape[1:])

    def __len__(self) -> int:
        return int(self._rows.shape[0])

    def read(self, start: int, stop: int) -> np.ndarray:
        start, stop = _clip(start, stop, len(self))
        return self._rows[start:stop].copy()


class FrameWindow:
    """Rows [begin, end) of another `FrameSource`, read through it: a job's range and handles inside
    the tracking of a longer reference, without copying the reference's meshes."""

    def __init__(self, source: FrameSource, begin: int, end: int) -> None:
        if not 0 <= begin <= end <= len(source):
            raise ValueError(f"rows [{begin}, {end}) are not inside a source of {len(source)} rows")
        self._source, self._begin, self._end = source, begin, end

    @property
    def row_shape(self) -> tuple[int, ...]:
        return tuple(self._source.row_shape)

    def __len__(self) -> int:
        return self._end - self._begin

    def read(self, start: int, stop: int) -> np.ndarray:
        start, stop = _clip(start, stop, len(self))
        return self._source.read(self._begin + start, self._begin + stop)


class NpyFrames:
    """The rows of a C-ordered `.npy` file, read by windows with positioned reads (no memory map: the
    pages of a map stay in the process's resident memory once touched).

    The file is opened once and held open: a cache entry replaced or cleaned while a job reads it
    leaves this job reading the file it checked.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._handle: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - held for the object's life
        try:
            version = np.lib.format.read_magic(self._handle)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(self._handle)
            self._offset = self._handle.tell()
            if fortran or not shape:
                raise ValueError(f"{self.path.name}: not a C-ordered array of rows")
            self._shape: tuple[int, ...] = tuple(int(s) for s in shape)
            self._dtype = np.dtype(dtype)
            self._row_bytes = int(np.prod(self._shape[1:], dtype=np.int64)) * self._dtype.itemsize
            expected = self._offset + self._shape[0] * self._row_bytes
            size = os.fstat(self._handle.fileno()).st_size
            if size != expected:
                raise ValueError(f"{self.path.name}: truncated ({size} of {expected} bytes)")
        except BaseException:
            self._handle.close()
            raise

    @property
    def row_shape(self) -> tuple[int, ...]:
        return self._shape[1:]

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def __len__(self) -> int:
        return self._shape[0]

    def read(self, start: int, stop: int) -> np.ndarray:
        start, stop = _clip(start, stop, len(self))
        data = os.pread(self._handle.fileno(), (stop - start) * self._row_bytes, self._offset + start * self._row_bytes)
        return np.frombuffer(bytearray(data), self._dtype).reshape(stop - start, *self.row_shape)

    def close(self) -> None:
        self._handle.close()

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None:
            handle.close()


class ScratchFrames:
    """Rows written by the job in windows and read back, in an anonymous temporary file.

    The file has no name (`tempfile.TemporaryFile`), so it goes away with the object or the process,
    crash included. Rows never written read as zeros.
    """

    def __init__(self, count: int, row_shape: tuple[int, ...], dtype: np.dtype | type, folder: Path | None = None,
                 fill: float = 0.0) -> None:
        self._count = int(count)
        self._shape = tuple(int(s) for s in row_shape)
        self._dtype = np.dtype(dtype)
        self._row_bytes = int(np.prod(self._shape, dtype=np.int64)) * self._dtype.itemsize
        self._file: BinaryIO = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 - owned by this object
        if fill != 0.0 and self._count:
            block = np.full((min(self._count, READ_CHUNK), *self._shape), fill, self._dtype)
            for start in range(0, self._count, block.shape[0]):
                self.write(start, block[: min(block.shape[0], self._count - start)])
        else:
            self._file.truncate(self._count * self._row_bytes)

    @property
    def row_shape(self) -> tuple[int, ...]:
        return self._shape

    def __len__(self) -> int:
        return self._count

    def write(self, start: int, rows: np.ndarray) -> None:
        """Store rows [start, start + len(rows))."""
        rows = np.ascontiguousarray(rows, self._dtype)
        if rows.shape[1:] != self._shape or start < 0 or start + rows.shape[0] > self._count:
            raise ValueError(f"rows {rows.shape} at {start} do not fit {self._count} x {self._shape}")
        os.pwrite(self._file.fileno(), rows.tobytes(), start * self._row_bytes)

    def read(self, start: int, stop: int) -> np.ndarray:
        start, stop = _clip(start, stop, len(self))
        data = os.pread(self._file.fileno(), (stop - start) * self._row_bytes, start * self._row_bytes)
        return np.frombuffer(bytearray(data), self._dtype).reshape(stop - start, *self._shape)

    def close(self) -> None:
        self._file.close()

    def __del__(self) -> None:
        file = getattr(self, "_file", None)
        if file is not None:
            file.close()


def _clip(start: int, stop: int, count: int) -> tuple[int, int]:
    start = min(max(0, int(start)), count)
    return start, min(max(start, int(stop)), count)
