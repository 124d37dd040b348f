"""Errors that name the problem. Every user-facing failure raises a subclass of PamfnError."""


class PamfnError(Exception):
    """Base class of all errors PAMFN Studio raises on bad input or missing resources."""


class FeatureError(PamfnError, ValueError):
    """Features with the wrong shape, mismatched lengths across modalities, NaN or Inf."""


class MediaError(PamfnError, ValueError):
    """A media file that cannot be decoded (not a video, truncated, no video stream, ...)."""


class CheckpointError(PamfnError, ValueError):
    """A checkpoint that is missing, corrupt, truncated or does not match the features."""


class DatasetError(PamfnError, ValueError):
    """Labels without features, features without labels, an empty split, ..."""


class WeightsNotFoundError(PamfnError, FileNotFoundError):
    """Pretrained extractor weights are absent; the message says where to put them."""


class ConfigError(PamfnError, ValueError):
    """A model configuration that names an unknown variant or inconsistent sizes."""


class OutputError(PamfnError, OSError):
    """An output path that must not be written: a folder, a device, a pipe, or an input of the same command."""
