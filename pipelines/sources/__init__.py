"""Readers at the edge for a site's own exports: source profiles (and, later, FHIR and HL7 v2).

Each source turns a site's files into contract-shaped raw frames that go through the same
typed rows -> expectations -> one-transaction load path as ``<extract>.csv`` folders, so quarantine,
idempotent upserts and the all-or-nothing load hold for every source. See ``docs/sources.md``.
"""

from carepulse.pipelines.sources.infer import infer_profile
from carepulse.pipelines.sources.profile import ProfileError, SourceProfile, load_profile, parse_profile
from carepulse.pipelines.sources.tabular import profiled_raw_frames, read_profiled

__all__ = [
    "ProfileError",
    "SourceProfile",
    "infer_profile",
    "load_profile",
    "parse_profile",
    "profiled_raw_frames",
    "read_profiled",
]
