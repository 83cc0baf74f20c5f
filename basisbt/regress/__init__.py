"""Golden strategy returns for CI (`basisbt regress`): cases, golden files, comparison, bless checks."""
