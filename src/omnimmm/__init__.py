"""omnimmm: omnichannel marketing mix modeling, lifecycle propensity and budget optimization."""

__version__ = "0.1.0"
