"""Independent oracles the tests check the engine against (backtrader_bridge: the same runs in backtrader)."""
