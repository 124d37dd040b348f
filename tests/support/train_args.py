"""Command-line options of a tiny, fast training run for the CLI tests."""

TINY = ["--d", "8", "--K", "2", "--epochs1", "2", "--epochs2", "2", "--crop", "12", "--batch-size", "8", "--quiet", "--threads", "1"]
