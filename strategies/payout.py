"""When a period's revenue reaches stakers: computed per period, paid through the next period in vesting steps.

Ethena (docs: sUSDe rewards mechanism): revenue is computed weekly and paid the following week, in transfers
every 8 hours, each vesting linearly over 8 hours. A `Cadence` states that for any protocol: periods of
`period_ns` starting at `anchor_ns + k x period_ns` (Monday 00:00 UTC by default, ISO weeks), the payout of
period k made in n = ceil(period / step) equal transfers at start(k + 1) + j x step (j = 0 .. n-1), each vesting
linearly over `vest_ns` (0: whole at its instant). Vested amounts only grow, so a share price fed from them never falls.

With step = vest the transfers vest back to back: the payout of period k is period-linear over period k + 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

HOUR_NS = 3600 * 10**9
MONDAY_NS = 4 * 86_400 * 10**9          # 1970-01-05, a Monday, 00:00 UTC: periods start on ISO-week boundaries


@dataclass(frozen=True)
class Cadence:
    """Revenue periods and how a period's payout is spread over the next one (all times int64 ns, UTC)."""

    period_ns: int = 168 * HOUR_NS
    step_ns: int = 8 * HOUR_NS
    vest_ns: int = 8 * HOUR_NS
    anchor_ns: int = MONDAY_NS

    @classmethod
    def hours(cls, period_h: float, step_h: float, vest_h: float) -> Cadence:
        return cls(int(round(period_h * HOUR_NS)), int(round(step_h * HOUR_NS)), int(round(vest_h * HOUR_NS)))

    @property
    def transfers(self) -> int:
        """Transfers per payout: ceil(period / step)."""
        return max(1, math.ceil(self.period_ns / self.step_ns))

    def period_of(self, t_ns: int) -> int:
        """The period holding the instant just before t (a bar closing at t belongs to the period it ends)."""
        return (t_ns - 1 - self.anchor_ns) // self.period_ns

    def start(self, k: int) -> int:
        return self.anchor_ns + k * self.period_ns

    def vested(self, k: int, t_ns: int) -> float:
        """Share (0 .. 1) of period k's payout vested by t: its transfers start at start(k + 1)."""
        n = self.transfers
        t0 = self.start(k + 1)
        if t_ns < t0:
            return 0.0
        done = 0.0
        for j in range(n):
            tj = t0 + j * self.step_ns
            if t_ns < tj:
                break
            done += 1.0 if self.vest_ns <= 0 or t_ns >= tj + self.vest_ns else (t_ns - tj) / self.vest_ns
        return done / n

    def end_of_payout(self, k: int) -> int:
        """When period k's payout has fully vested."""
        return self.start(k + 1) + (self.transfers - 1) * self.step_ns + max(self.vest_ns, 0)


@dataclass
class PayoutSchedule:
    """Payouts set for stakers, period by period, and how much of them has vested so far (quote)."""

    cadence: Cadence
    due: dict[int, float] = field(default_factory=dict)     # period -> amount to pay over the next period
    paid: dict[int, float] = field(default_factory=dict)    # period -> amount vested so far

    def set(self, k: int, amount: float) -> None:
        """Period k's staker payout (>= 0), paid through period k + 1."""
        if amount < 0.0 or not math.isfinite(amount):
            raise ValueError(f"a staker payout is >= 0 and finite, not {amount!r}")
        if amount > 0.0:
            self.due[k] = amount

    def vest(self, t_ns: int) -> float:
        """Amount newly vested since the last call, up to t (quote, >= 0); fully vested payouts are dropped."""
        new = 0.0
        for k in list(self.due):
            target = self.due[k] * self.cadence.vested(k, t_ns)
            new += max(target - self.paid.get(k, 0.0), 0.0)
            self.paid[k] = max(target, self.paid.get(k, 0.0))
            if t_ns >= self.cadence.end_of_payout(k):
                new += self.due[k] - self.paid[k]          # the rounding left, so a payout sums to its amount
                del self.due[k], self.paid[k]
        return new

    @property
    def pending(self) -> float:
        """Set for stakers and not vested yet (quote): still in the product's assets, owed to stakers."""
        return sum(a - self.paid.get(k, 0.0) for k, a in self.due.items())
