"""Test support: generated media, toy data sets, a dashboard data set with checkpoints,
tiny training options. Tests import from here, never from each other."""
