"""Fakes shared by the unit tests (imported as ``fakes``: pytest puts this folder on sys.path)."""


class FakeClock:
    """A monotonic clock and a sleep that only moves it: waits run in no time."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
