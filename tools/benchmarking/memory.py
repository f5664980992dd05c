"""Peak memory of a benchmark mode: CUDA's allocator, or psutil on the CPU."""
import gc
import threading

import psutil
import torch

MIB = 2.0**20


def synchronize(device: torch.device) -> None:
    """Waits for the device's queued work (a no-op on the CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


class MemoryMeter:
    """Peak memory of a mode above the memory in use when it started.

    On CUDA, ``torch.cuda.max_memory_allocated`` after a reset; on the CPU,
    a thread samples the process' resident set size (psutil) every
    ``interval`` seconds. The
    peak covers the mode's set-up and warm-up: its weights, optimizer
    state, gradients and activations.

    Args:
        device (torch.device): The device trained on.
        interval (float): CPU sampling period in seconds.
    """

    def __init__(self, device: torch.device, interval: float = 0.005):
        self.device, self.interval = device, interval
        if device.type == 'cuda':
            self.kind = 'CUDA max_memory_allocated'
        else:
            process = psutil.Process()
            self._read = lambda: process.memory_info().rss
            self.kind = 'CPU resident set size (psutil)'
        self.kind += ' above the start of the mode (set-up and warm-up)'
        self._thread, self._stop = None, threading.Event()
        self._base = self._peak = 0

    def start(self) -> None:
        """Resets the peak and starts measuring."""
        gc.collect()
        if self.device.type == 'cuda':
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            return
        self._base = self._peak = self._read()
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, self._read())

    def stop(self) -> float:
        """Stops measuring (a no-op if stopped).

        Returns:
            float: The peak above the start in MiB.
        """
        if self.device.type == 'cuda':
            synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
            return (peak - self._base) / MIB
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self._peak = max(self._peak, self._read())
        return (self._peak - self._base) / MIB
