"""The staking side of a synthetic dollar: who gets a period's revenue, and the vault whose share price only rises.

A closed period's realized revenue X is split (docs: Ethena rewards mechanism, reserve fund):
- X <= 0: the reserve fund pays it all; stakers get nothing and their share price stays flat.
- X > 0: the reserve keeps a take, stakers get the rest. The take is `reserve_share` x X (rule "share"), or the
  revenue earned by the unstaked supply, X x (1 - staked / supply) (rule "unstaked": how Ethena funded its
  reserve during the shard campaign; then the staker APY is the revenue rate on the whole backing). With a
  `reserve_cap` (share of supply) the take only fills the reserve up to cap x supply.
The vault (sUSDe, an ERC-4626 vault) holds the staked dollars; payouts raise its assets, not its shares, and
deposits and withdrawals happen at the current share price, so the price moves only with payouts: up or flat.
"""
from __future__ import annotations

from dataclasses import dataclass

RESERVE_RULES = ("share", "unstaked")


def split_revenue(revenue: float, *, rule: str, reserve_share: float, staked: float, supply: float,
                  reserve: float, reserve_cap: float = 0.0) -> tuple[float, float]:
    """(to stakers >= 0, to the reserve) of a period's realized revenue (quote); they sum to `revenue`."""
    if revenue <= 0.0:
        return 0.0, revenue
    if rule == "share":
        keep = reserve_share * revenue
    elif rule == "unstaked":
        keep = revenue * (1.0 - min(staked / supply, 1.0)) if supply > 0.0 else revenue
    else:
        raise ValueError(f"reserve rule {rule!r}: use one of {', '.join(RESERVE_RULES)}")
    if reserve_cap > 0.0:
        keep = min(keep, max(reserve_cap * supply - reserve, 0.0))
    return revenue - keep, keep


@dataclass
class Vault:
    """Staked dollars held as `shares` at `price` (quote per share; assets = shares x price). The price is the
    state, so deposits and withdrawals cannot move it even by a rounding: only a reward raises it."""

    shares: float
    price: float = 1.0

    @classmethod
    def open(cls, assets: float) -> Vault:
        return cls(assets, 1.0)                  # price 1 at the start

    @property
    def assets(self) -> float:
        return self.shares * self.price

    def deposit(self, amount: float) -> None:
        """Stake (amount > 0) or unstake (amount < 0, at most the assets) at the current price."""
        self.shares = max(self.shares + amount / self.price, 0.0)

    def reward(self, amount: float) -> None:
        """A vested payout: the price rises by amount / shares (amount >= 0; with no shares nobody gets it)."""
        if amount < 0.0:
            raise ValueError(f"a vault reward is >= 0, not {amount!r}")
        if self.shares > 0.0:
            self.price += amount / self.shares
