"""Everything that brings outside data in: ccxt fetcher (the only ccxt user) and file importers."""
