"""Deviations: automatic (limits, holds, yield, OOS) and manual; investigated and closed by QA."""
