"""Synthetic media for the tests: the library's writers (pamfn.features.testmedia)."""

from pamfn.features.testmedia import write_test_audio, write_test_video

__all__ = ["write_test_audio", "write_test_video"]
