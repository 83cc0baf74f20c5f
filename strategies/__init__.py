"""Strategies: the template (`Strategy`), built-ins, and loading a user's strategy file."""
from basisbt.strategies.base import Strategy, param
from basisbt.strategies.registry import builtin_strategies, load_strategy_class

__all__ = ["Strategy", "param", "builtin_strategies", "load_strategy_class"]
