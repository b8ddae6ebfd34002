"""The supervision decision for `vosync up`, kept pure (no processes, no clock of its own).

A child that exits is restarted after a backoff that doubles from 1 s up to 30 s; one that exits
`crash_limit` times within `crash_window_s` is not restarted again and the whole stack stops, since
restarting it forever would only hide a broken configuration or machine.
"""

from __future__ import annotations

import signal
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Decision:
    restart: bool
    delay_s: float
    restarts: int  # how many times this child has exited so far (this exit included)
    reason: str = ""  # set when restart is False: one sentence for the operator


@dataclass
class RestartPolicy:
    initial_s: float = 1.0
    max_s: float = 30.0
    crash_limit: int = 5
    crash_window_s: float = 60.0
    _exits: dict[str, deque[float]] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)

    def on_exit(self, name: str, now: float, how: str = "exited") -> Decision:
        """Record that `name` exited at `now` (monotonic seconds) and say what to do."""
        count = self._counts.get(name, 0) + 1
        self._counts[name] = count
        recent = self._exits.setdefault(name, deque())
        recent.append(now)
        while recent and now - recent[0] > self.crash_window_s:
            recent.popleft()
        if len(recent) >= self.crash_limit:
            reason = (
                f"{name} {how} {len(recent)} times within {self.crash_window_s:.0f} s, "
                "so vosync is stopping instead of restarting it again"
            )
            return Decision(restart=False, delay_s=0.0, restarts=count, reason=reason)
        # Backoff grows with the exits still inside the window: a child that ran quietly for a
        # while starts again from the initial delay.
        delay = min(self.max_s, self.initial_s * 2 ** (len(recent) - 1))
        return Decision(restart=True, delay_s=delay, restarts=count)


def describe_exit(returncode: int | None) -> str:
    """'exited with code 3' or 'was killed by SIGKILL' (Popen reports a signal as -N)."""
    if returncode is None:
        return "failed to start"
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"
