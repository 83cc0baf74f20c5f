"""Stress testing: Monte Carlo market paths (model.py) and block bootstrap of real funding (bootstrap.py)."""
